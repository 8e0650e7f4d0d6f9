"""What lists keep of an erased contact (a contacts.gdpr erasure step): a segment rule naming one of
its emails, phones or its external id (`email eq ann@example.com`) gets ERASED_VALUE instead, which
matches nobody, and the segment is rebuilt after the erasure commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from contacts.gdpr import ErasedKeys, erased_matcher, scrub_erased
from contacts_service.models import Tenant
from contacts_service.queueing import delay_on_commit
from lists.models import ContactList, ListKind, ListStatus
from lists.segments import TEXT_FIELDS

_WRITTEN = TEXT_FIELDS - {"status", "country"}  # not codes: what a person wrote


def _scrubbed(node: Any, holds: Callable[[str], bool]) -> tuple[Any, bool]:
    """Rules with the values of the rules that compare what a person wrote (text fields, custom
    attributes) scrubbed; tag names, list ids, consent and activity rules, fields and operators are
    not personal data and stay as they are (a tag named like an external id is still the tag)."""
    if not isinstance(node, dict):
        return node, False
    if isinstance(node.get("rules"), list):
        children = [_scrubbed(child, holds) for child in node["rules"]]
        return {**node, "rules": [c for c, _ in children]}, any(changed for _, changed in children)
    name = node.get("field")
    if isinstance(name, str) and (name in _WRITTEN or name.startswith("attributes.")) and "value" in node:
        value, changed = scrub_erased(node["value"], holds)
        return ({**node, "value": value}, True) if changed else (node, False)
    return node, False


def segment_rules_erase(tenant: Tenant, keys: ErasedKeys) -> None:
    from lists.tasks import segment_rebuild_task

    holds = erased_matcher(keys)
    segments = ContactList.objects.for_tenant(tenant).filter(kind=ListKind.DYNAMIC)
    for list_id, rules, status in list(segments.values_list("pk", "rules", "status")):
        scrubbed, changed = _scrubbed(rules, holds)
        if not changed:
            continue
        segments.filter(pk=list_id).update(rules=scrubbed, updated_at=timezone.now())
        if status == ListStatus.ACTIVE:  # an archived segment is rebuilt when it is made active again
            delay_on_commit(segment_rebuild_task, str(tenant.pk), str(list_id), run_here=True)
