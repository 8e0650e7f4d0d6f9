"""Thin views of duplicates, matching rules, merges and undo: validate, call one service, render."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import selectors, services
from contacts.filters_merge import DuplicateFilter, MergeFilter
from contacts.models import ContactIdentifier, DuplicateCandidate, Merge
from contacts.serializers_merge import (
    DuplicateCandidateSerializer,
    MatchingRulesInputSerializer,
    MatchingRulesSerializer,
    MergeDetailSerializer,
    MergeInputSerializer,
    MergeOutcomeSerializer,
    MergePreviewInputSerializer,
    MergeSerializer,
    RecomputeSerializer,
)
from contacts.services.merges import MergeOutcome
from contacts.tasks import duplicates_recompute_task
from contacts_service.roles import Perm
from contacts_service.serializers import ErrorSerializer
from contacts_service.viewsets import TenantAPIView, TenantViewSet, parse_id

CONFLICT_409 = OpenApiResponse(
    ErrorSerializer,
    description="Code `already_dismissed` / `not_dismissed`: the pair is (not) dismissed already.",
)
UNDO_409 = OpenApiResponse(
    ErrorSerializer,
    description="Why the merge cannot be undone: `already_undone`; `erased` (a contact was erased since); "
    "`later_merge` (a later merge involves its contacts: undo that one first); `changed_since` (the primary "
    "changed after the merge); `unique` (another contact now has an email, external_id or identifier a "
    "restored contact had, errors[].field names it); `attribute_changed` (a restored attribute value is one "
    "its definition no longer admits: deleted, choice removed, type changed).",
)


@extend_schema_view(
    list=extend_schema(
        summary="Duplicate candidates: pairs of live contacts that may be one person, most likely first",
        responses=DuplicateCandidateSerializer(many=True),
    ),
)
class DuplicateViewSet(mixins.ListModelMixin, TenantViewSet):
    queryset = DuplicateCandidate.objects.none()
    serializer_class = DuplicateCandidateSerializer
    filterset_class = DuplicateFilter
    bodyless_actions = frozenset({"dismiss", "reopen", "recompute"})
    permission_map = {
        "list": Perm.CONTACTS_VIEW,
        "dismiss": Perm.CONTACTS_MERGE,
        "reopen": Perm.CONTACTS_MERGE,
        "recompute": Perm.CONTACTS_MERGE,
    }
    expensive_actions = frozenset({"recompute"})  # the plan's `expensive` rate limit too

    def get_tenant_queryset(self, tenant):
        return selectors.duplicate_list(tenant=tenant)

    @extend_schema(
        summary="Dismiss a pair: not the same person; recomputing never brings it back",
        request=None,
        responses={200: DuplicateCandidateSerializer, 409: CONFLICT_409},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def dismiss(self, request: Request, pk: str) -> Response:
        candidate = services.duplicate_dismiss(
            tenant=self.tenant, actor=self.actor, candidate_id=parse_id(pk)
        )
        return Response(DuplicateCandidateSerializer(self._fresh(candidate.pk)).data)

    @extend_schema(
        summary="Reopen a dismissed pair (checked again right after)",
        request=None,
        responses={200: DuplicateCandidateSerializer, 409: CONFLICT_409},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def reopen(self, request: Request, pk: str) -> Response:
        candidate = services.duplicate_reopen(tenant=self.tenant, actor=self.actor, candidate_id=parse_id(pk))
        # With tasks in-process the check has already run, and dropped a pair that no longer matches:
        # the answer is then the pair as reopened, as it is when the check runs later in a worker.
        return Response(DuplicateCandidateSerializer(self._fresh(candidate.pk, missing=candidate)).data)

    @extend_schema(
        summary="Recompute every candidate pair of the tenant (in a task)",
        request=None,
        responses={202: RecomputeSerializer},
    )
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def recompute(self, request: Request) -> Response:
        duplicates_recompute_task.delay(str(self.tenant.pk))
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)

    def _fresh(self, candidate_id, missing: DuplicateCandidate | None = None) -> DuplicateCandidate:
        found = (
            DuplicateCandidate.objects.for_tenant(self.tenant)
            .select_related("contact_a", "contact_b")
            .filter(pk=candidate_id)
            .first()
        )
        if found is None:
            if missing is None:
                raise DuplicateCandidate.DoesNotExist
            return missing
        return found


class MatchingRulesView(TenantAPIView):
    permission_map = {"get": Perm.CONTACTS_VIEW, "put": Perm.CONTACTS_MERGE}

    @extend_schema(
        summary="The tenant's duplicate matching rules and merge strategy", responses=MatchingRulesSerializer
    )
    def get(self, request: Request) -> Response:
        return Response(MatchingRulesSerializer(services.matching_rules_get(tenant=self.tenant)).data)

    @extend_schema(
        summary="Replace the matching rules (candidates are recomputed after)",
        request=MatchingRulesInputSerializer,
        responses=MatchingRulesSerializer,
    )
    def put(self, request: Request) -> Response:
        payload = MatchingRulesInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rules = services.matching_rules_update(tenant=self.tenant, actor=self.actor, **payload.validated_data)
        return Response(MatchingRulesSerializer(rules).data)


# Named as the path template names it ({id}: drf-spectacular renames the URL's pk): a "pk" parameter
# was a second path parameter the template does not hold (an invalid document).
CONTACT_ID_PARAM = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The primary."
)


CONTACT_FIELDS = (
    "id", "email", "first_name", "last_name", "display_name", "company", "phone", "country", "city", "status",
    "source", "external_id", "attributes", "created_at", "updated_at", "last_activity_at",
)  # fmt: skip


def _outcome_data(outcome: MergeOutcome, *, tenant) -> dict:
    """The merge's result as MergeOutcomeSerializer renders it; for a dry run the primary's
    identifiers and tags are its current ones plus what it would gain."""
    from tags.models import TagAssignment

    primary, dry_run = outcome.primary, outcome.merge is None
    identifiers = [
        {"channel": c, "value": v}
        for c, v in ContactIdentifier.objects.for_tenant(tenant)
        .filter(contact_id=primary.pk)
        .order_by("channel", "created_at")
        .values_list("channel", "value")
    ]
    tags = [
        a.tag
        for a in TagAssignment.objects.for_tenant(tenant).filter(contact_id=primary.pk).select_related("tag")
    ]
    if dry_run:
        identifiers += outcome.identifiers_added
        tags += outcome.tags_added
    contact = {
        **{name: getattr(primary, name) for name in CONTACT_FIELDS},
        "identifiers": identifiers,
        "tags": sorted(
            ({"id": t.pk, "name": t.name, "color": t.color} for t in tags), key=lambda t: t["name"].lower()
        ),
    }
    return {
        "merge_id": None if dry_run else outcome.merge.pk,
        "dry_run": dry_run,
        "strategy": outcome.plan.strategy,
        "contact": contact,
        "changes": {name: {"old": old, "new": new} for name, (old, new) in outcome.plan.changes.items()},
        "sources": outcome.plan.sources,
        "conflicts": outcome.plan.conflicts,
        "identifiers_added": outcome.identifiers_added,
        "tags_added": [{"id": t.pk, "name": t.name, "color": t.color} for t in outcome.tags_added],
        "lists_added": [{"id": x.pk, "name": x.name, "kind": x.kind} for x in outcome.lists_added],
        "consent": outcome.consent,
    }


class ContactMergeView(TenantAPIView):
    permission_map = {"post": Perm.CONTACTS_MERGE}

    @extend_schema(
        summary="Merge contacts into this one (or only show the result with dry_run)",
        description="The others disappear from every read; the primary keeps the chosen values and gains "
        "their identifiers, attributes (per strategy), tags, static lists, consent (the strictest state per "
        "channel and purpose), timeline and history. Undo with POST /merges/{id}/undo/.",
        parameters=[CONTACT_ID_PARAM],
        request=MergeInputSerializer,
        responses={201: MergeOutcomeSerializer, 200: MergeOutcomeSerializer},
    )
    def post(self, request: Request, pk: str) -> Response:
        body, dry_run = _merge(self, request, pk, MergeInputSerializer)
        return Response(body, status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED)


class ContactMergePreviewView(TenantAPIView):
    permission_map = {"post": Perm.CONTACTS_VIEW}

    @extend_schema(
        summary="The contact a merge would make, without writing anything",
        parameters=[CONTACT_ID_PARAM],
        request=MergePreviewInputSerializer,
        responses=MergeOutcomeSerializer,
    )
    def post(self, request: Request, pk: str) -> Response:
        body, _ = _merge(self, request, pk, MergePreviewInputSerializer)
        return Response(body)


def _merge(view: TenantAPIView, request: Request, pk: str, input_serializer) -> tuple[dict, bool]:
    """Validate the body, merge (or only plan, for a dry run or the preview), render the outcome."""
    payload = input_serializer(data=request.data)
    payload.is_valid(raise_exception=True)
    data = payload.validated_data
    # The preview takes the merge's body, dry_run included, and never writes whatever it says.
    dry_run = input_serializer is MergePreviewInputSerializer or data.get("dry_run", False)
    outcome = services.contact_merge(
        tenant=view.tenant,
        actor=view.actor,
        primary_id=parse_id(pk),
        other_ids=data["others"],
        fields=data.get("fields"),
        strategy=data.get("strategy"),
        dry_run=dry_run,
    )
    return MergeOutcomeSerializer(_outcome_data(outcome, tenant=view.tenant)).data, dry_run


@extend_schema_view(
    list=extend_schema(summary="Merges, newest first", responses=MergeSerializer(many=True)),
    retrieve=extend_schema(
        summary="A merge: its snapshots and whether it can be undone now", responses=MergeDetailSerializer
    ),
)
class MergeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    queryset = Merge.objects.none()
    serializer_class = MergeSerializer
    filterset_class = MergeFilter
    bodyless_actions = frozenset({"undo"})
    permission_map = {"list": Perm.CONTACTS_VIEW, "retrieve": Perm.CONTACTS_VIEW, "undo": Perm.CONTACTS_MERGE}

    def get_tenant_queryset(self, tenant):
        return selectors.merge_list(tenant=tenant)

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        merge, blocker = services.merge_undo_check(tenant=self.tenant, merge_id=parse_id(kwargs["pk"]))
        return Response(MergeDetailSerializer(merge, context={"blocker": blocker}).data)

    @extend_schema(
        summary="Undo a merge: every contact back exactly as it was",
        request=None,
        responses={200: MergeDetailSerializer, 409: UNDO_409},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def undo(self, request: Request, pk: str) -> Response:
        merge = services.merge_undo(tenant=self.tenant, actor=self.actor, merge_id=parse_id(pk))
        merge, blocker = services.merge_undo_check(tenant=self.tenant, merge_id=merge.pk)
        return Response(MergeDetailSerializer(merge, context={"blocker": blocker}).data)
