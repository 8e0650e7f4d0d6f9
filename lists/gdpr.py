"""What lists keep of an erased contact (a contacts.gdpr erasure step): a segment rule naming one of
its emails, phones or its external id (`email eq ann@example.com`) gets ERASED_VALUE instead, which
matches nobody, and the segment is rebuilt after the erasure commits."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from contacts.gdpr import ErasedKeys, erased_matcher, scrub_erased
from contacts_service.models import Tenant
from lists.models import ContactList, ListKind


def segment_rules_erase(tenant: Tenant, keys: ErasedKeys) -> None:
    from lists.tasks import segment_rebuild_task

    holds = erased_matcher(keys)
    segments = ContactList.objects.for_tenant(tenant).filter(kind=ListKind.DYNAMIC)
    for list_id, rules in list(segments.values_list("pk", "rules")):
        scrubbed, changed = scrub_erased(rules, holds)
        if not changed:
            continue
        segments.filter(pk=list_id).update(rules=scrubbed, updated_at=timezone.now())
        transaction.on_commit(
            lambda list_id=list_id: segment_rebuild_task.delay(str(tenant.pk), str(list_id))
        )
