"""A tenant-aware API test base that every endpoint configures (after NetBox's API test cases).

A subclass names its URLs, how to make an object, valid and invalid payloads and the permission
each action needs; it then gets, for every action:
  - anonymous -> 401;
  - each role -> allowed, or 403 with no row changed and no outbox row;
  - another tenant's object -> 404, nothing changed, no outbox row;
  - each invalid payload -> 400 naming the field.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from contacts_service.roles import ROLE_PERMISSIONS, Role
from events.models import OutboxEvent

ACTIONS = {
    "list": ("get", False),
    "retrieve": ("get", True),
    "create": ("post", False),
    "partial_update": ("patch", True),
    "destroy": ("delete", True),
}


def outbox_count() -> int:
    return OutboxEvent.objects.unscoped().count()


class TenantAPITestBase:
    """Configure these in a subclass named Test<Endpoint>."""

    list_url_name: ClassVar[str]
    detail_url_name: ClassVar[str]
    permissions: ClassVar[dict[str, str]]  # action -> permission
    invalid_data: ClassVar[list[tuple[dict[str, Any], str]]] = []  # (payload, field named in the 400)

    def make_object(self, tenant):
        """A saved object of `tenant` for retrieve/update/delete calls."""
        raise NotImplementedError

    def model_rows(self, tenant) -> list[dict]:
        """Everything of `tenant` this endpoint could change, to compare before and after."""
        raise NotImplementedError

    def create_payload(self) -> dict[str, Any]:
        """A valid create body; called once per call, so it can be unique each time."""
        raise NotImplementedError

    def update_payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def list_kwargs(self, obj) -> dict[str, Any]:
        """URL kwargs of the list URL (nested endpoints take their parent from obj)."""
        return {}

    # -- helpers ---------------------------------------------------------------------------
    def url(self, action: str, obj) -> str:
        kwargs = self.list_kwargs(obj)
        if ACTIONS[action][1]:
            return reverse(self.detail_url_name, kwargs={**kwargs, "pk": obj.pk})
        return reverse(self.list_url_name, kwargs=kwargs or None)

    def call(self, client, action: str, obj):
        method, _ = ACTIONS[action]
        data = {"create": self.create_payload, "partial_update": self.update_payload}.get(action)
        return getattr(client, method)(self.url(action, obj), data=data() if data else None, format="json")

    def snapshot(self, tenant) -> tuple[list[dict], int]:
        return self.model_rows(tenant), outbox_count()

    @staticmethod
    def rows(queryset) -> list[dict]:
        return sorted(({**model_to_dict(o), "pk": str(o.pk)} for o in queryset), key=lambda r: r["pk"])

    # -- the checks every endpoint gets -----------------------------------------------------
    @pytest.mark.django_db
    def test_anonymous_gets_401_for_every_action(self, anon, tenant):
        obj = self.make_object(tenant)
        for action in self.permissions:
            response = self.call(anon, action, obj)
            assert response.status_code == 401, (action, response.content)
            assert response.json()["code"] == "not_authenticated"

    @pytest.mark.django_db
    def test_each_role_is_allowed_or_forbidden_and_denials_change_nothing(self, client_for, tenant):
        for role in Role.values:
            client = client_for(tenant, role)
            for action, permission in self.permissions.items():
                obj = self.make_object(tenant)
                before = self.snapshot(tenant)
                response = self.call(client, action, obj)
                if permission in ROLE_PERMISSIONS[role]:
                    assert response.status_code < 300, (role, action, response.status_code, response.content)
                else:
                    assert response.status_code == 403, (role, action, response.status_code, response.content)
                    assert response.json()["code"] == "permission_denied"
                    assert self.snapshot(tenant) == before, f"{role} {action} was denied but changed data"

    @pytest.mark.django_db
    def test_another_tenants_object_is_404_and_untouched(self, client_for, tenant, other_tenant):
        client = client_for(tenant, Role.OWNER)
        for action in self.permissions:
            if not ACTIONS[action][1]:
                continue
            foreign = self.make_object(other_tenant)
            before = self.snapshot(other_tenant)
            response = self.call(client, action, foreign)
            assert response.status_code == 404, (action, response.status_code, response.content)
            assert str(foreign.pk) not in response.content.decode()
            assert self.snapshot(other_tenant) == before

    @pytest.mark.django_db
    def test_invalid_input_is_400_naming_the_field(self, client_for, tenant):
        client = client_for(tenant, Role.OWNER)
        url = self.url("create", self.make_object(tenant))
        for payload, field in self.invalid_data:
            before = self.snapshot(tenant)
            response = client.post(url, data=payload, format="json")
            assert response.status_code == 400, (payload, response.content)
            body = response.json()
            assert body["code"] == "validation_error"
            assert field in [e["field"] for e in body["errors"]], (payload, body)
            assert self.snapshot(tenant) == before
