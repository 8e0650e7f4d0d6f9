"""Statistics on contact_search_text(...) so PostgreSQL can estimate how many contacts a `search`
word matches.

contact_search_trgm is a partial index (live contacts), and PostgreSQL does not use a partial
index's expression statistics: every `LIKE '%WORD%'` on the search text was estimated at ~100 rows,
whatever the word. A word held by every contact ("Company") was then read through the trigram
index (1,000,000 rows rechecked, ~300 ms) instead of walking the created_at index and stopping at
the first page. Expression statistics (PostgreSQL 14+) give the planner the real fraction; 1000
histogram entries also let search_contacts tell a word most contacts hold (see
contacts.search.common_words) from one that narrows the search, and the second statistics object
covers the unindexed form of the text such words are matched against.
"""

from django.db import migrations

EXPRESSION = "contact_search_text(email, first_name, last_name, display_name, company)"
STATISTICS = {
    # The indexed search text (what LIKE through contact_search_trgm is estimated with).
    "contact_search_text_stats": f"({EXPRESSION})",
    # The same text as contacts.search.UnindexedSearchText writes it for common words.
    "contact_search_filter_stats": f"(({EXPRESSION} || ''))",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    if schema_editor.connection.pg_version < 140000:
        # Statistics on expressions came with PostgreSQL 14 (13 is supported: docs/operations.md);
        # without them every word goes through the trigram index, as before (contacts.search).
        return
    for name, expression in STATISTICS.items():
        schema_editor.execute(f"CREATE STATISTICS IF NOT EXISTS {name} ON {expression} FROM contacts_contact")
        schema_editor.execute(f"ALTER STATISTICS {name} SET STATISTICS 1000")
    schema_editor.execute("ANALYZE contacts_contact")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in STATISTICS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0010_history_one_contact_index")]

    operations = [migrations.RunPython(forwards, backwards)]
