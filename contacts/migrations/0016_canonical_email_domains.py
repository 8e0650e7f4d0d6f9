"""Stored emails take their canonical spelling (contacts.normalization.canonical_email).

Before, an address was stored lower-cased as given, so `a@xn--bcher-kva.de`, `a@bücher.de` and
`a@ｂüｃｈｅｒ.de` (full-width letters) were three contacts of one mailbox and an `?email=` lookup found
only its own spelling. Only addresses with a non-ASCII character or a punycode label can change; the
scan reads the table once. An address whose canonical spelling another live contact (or identifier)
of the tenant already holds is left as it is: the two are duplicates for a merge, not for a
migration to decide between. Backwards: nothing to undo (the canonical spelling is a valid one).
"""

from django.db import migrations
from django.db.models import Q

CANDIDATE = Q(email__regex=r"[^\x01-\x7f]") | Q(email__contains="xn--")


def forwards(apps, schema_editor):
    from contacts.normalization import canonical_email

    # The base managers: the default ones of these models refuse a query without a tenant.
    contacts = apps.get_model("contacts", "Contact")._base_manager
    identifiers = apps.get_model("contacts", "ContactIdentifier")._base_manager
    for pk, tenant_id, email in contacts.filter(CANDIDATE).values_list("pk", "tenant_id", "email"):
        canonical = canonical_email(email)
        if canonical == email:
            continue
        taken = contacts.filter(tenant_id=tenant_id, email=canonical, deleted_at__isnull=True)
        if not taken.exclude(pk=pk).exists():
            contacts.filter(pk=pk).update(email=canonical)
    emails = identifiers.filter(channel="email").filter(
        Q(value__regex=r"[^\x01-\x7f]") | Q(value__contains="xn--")
    )
    for pk, tenant_id, value in emails.values_list("pk", "tenant_id", "value"):
        canonical = canonical_email(value)
        if canonical == value:
            continue
        taken = identifiers.filter(tenant_id=tenant_id, channel="email", value=canonical)
        if not taken.exclude(pk=pk).exists():
            identifiers.filter(pk=pk).update(value=canonical)


class Migration(migrations.Migration):
    dependencies = [("contacts", "0015_contact_tenant_unindexed")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
