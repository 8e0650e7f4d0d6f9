"""Celery tasks keeping dynamic segments current; idempotent, safe to retry."""

from celery import shared_task

from contacts.models import ChangeSource
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.models import Tenant


@shared_task(acks_late=True)
def segment_rebuild_task(tenant_id: str, list_id: str) -> dict:
    from lists.dynamic import segment_rebuild

    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        added, removed = segment_rebuild(tenant=tenant, list_id=list_id)
    return {"added": added, "removed": removed}


@shared_task(acks_late=True)
def segment_catch_up_task(tenant_id: str, list_id: str, since: str) -> None:
    import datetime as dt

    from lists.dynamic import segment_catch_up

    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        segment_catch_up(tenant=tenant, list_id=list_id, since=dt.datetime.fromisoformat(since))


@shared_task(acks_late=True)
def segments_rebuild_tenant_task(tenant_id: str) -> int:
    from lists.dynamic import _dynamic_lists, segment_rebuild

    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        ids = list(_dynamic_lists(tenant).values_list("pk", flat=True))
        for list_id in ids:
            segment_rebuild(tenant=tenant, list_id=list_id)
    return len(ids)


@shared_task(acks_late=True)
def segments_refresh_contact_task(tenant_id: str, contact_id: str) -> None:
    from lists.dynamic import _dynamic_lists, _refresh_many

    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        _refresh_many(
            tenant=tenant,
            contact_ids=[contact_id],
            segments=list(_dynamic_lists(tenant)),
            actor=SYSTEM_ACTOR,
            source=ChangeSource.SYSTEM,
        )


@shared_task(acks_late=True)
def segments_refresh_contacts_task(tenant_id: str, contact_ids: list[str], only_field: str = "") -> None:
    from lists.dynamic import _dynamic_lists, _refresh_many, rules_mention

    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        segments = [s for s in _dynamic_lists(tenant) if not only_field or rules_mention(s.rules, only_field)]
        _refresh_many(
            tenant=tenant, contact_ids=contact_ids, segments=segments, actor=SYSTEM_ACTOR,
            source=ChangeSource.SYSTEM,
        )  # fmt: skip


@shared_task(acks_late=True)
def segments_rebuild_time_relative() -> int:
    """Beat: rebuild the segments whose rules say "in the last N days" (membership drifts daily)."""
    from lists.dynamic import segment_rebuild, time_relative_segments

    segments = time_relative_segments()
    for contact_list in segments:
        tenant = Tenant.objects.get(pk=contact_list.tenant_id)
        with tenant_context(tenant):
            segment_rebuild(tenant=tenant, list_id=contact_list.pk)
    return len(segments)
