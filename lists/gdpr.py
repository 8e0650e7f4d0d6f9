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


def _holding(tenant: Tenant, reached: list[ErasedKeys]) -> list:
    """The ids of the tenant's dynamic lists whose rules name one of these contacts' values."""
    matchers = [erased_matcher(keys) for keys in reached]
    segments = ContactList.objects.for_tenant(tenant).filter(kind=ListKind.DYNAMIC)
    return [
        pk
        for pk, rules in segments.values_list("pk", "rules")
        if any(_scrubbed(rules, h)[1] for h in matchers)
    ]


def segments_holding_lock(tenant: Tenant, reached: list[ErasedKeys]) -> list:
    """Lock the dynamic lists whose rules name the contacts' values (FOR NO KEY UPDATE, in one id order,
    as a tag rename locks segments); returns their ids. Called before the contacts are locked (a
    rebuild holds its segment, then locks its contacts: the other order deadlocked), and again by the
    step for a list naming a value the contact took meanwhile."""
    ids = _holding(tenant, reached)
    locked = ContactList.objects.for_tenant(tenant).filter(pk__in=ids).order_by("pk")
    return list(locked.select_for_update(no_key=True).values_list("pk", flat=True))


def segment_rules_erase(tenant: Tenant, keys: ErasedKeys) -> None:
    """Scrub the rules as they are once locked: a rename rewriting them meanwhile (a tag's new name)
    was overwritten by the rules read before it committed."""
    from lists.tasks import segment_rebuild_task

    holds = erased_matcher(keys)
    segments = ContactList.objects.for_tenant(tenant).filter(kind=ListKind.DYNAMIC)
    held = segments_holding_lock(tenant, [keys])
    for list_id, rules, status in list(segments.filter(pk__in=held).values_list("pk", "rules", "status")):
        scrubbed, changed = _scrubbed(rules, holds)
        if not changed:
            continue
        segments.filter(pk=list_id).update(rules=scrubbed, updated_at=timezone.now())
        if status == ListStatus.ACTIVE:  # an archived segment is rebuilt when it is made active again
            delay_on_commit(segment_rebuild_task, str(tenant.pk), str(list_id), run_here=True)
