"""The outbox payload becomes PostgreSQL `json` (the envelope's text) instead of `jsonb`.

The payload is written once per event and published whole, as text, by the relay; nothing searches
inside it on a hot path. Building jsonb's binary form (jsonb_build_object in the bulk link statement,
or parsing the text an import COPYs) cost ~0.3 s per 100,000 events; `json` only checks the text.
Readers are unchanged: the relay sends payload::text, Django returns a dict (events.models.JSONTextField).

ALTER COLUMN ... TYPE rewrites the table and its indexes under an exclusive lock: the outbox holds the
events of the last EVENTS_RETENTION_DAYS only; on the benchmark machine ~10 s per 1,000,000 rows (see
docs/operations.md). It runs after 0007, so the index 0007 drops is not rebuilt first. SQLite keeps its
text column: nothing to do there.
"""

import events.models
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0007_log_indexes_by_contact'),
    ]

    operations = [
        migrations.AlterField(
            model_name='outboxevent',
            name='payload',
            field=events.models.JSONTextField(),
        ),
    ]
