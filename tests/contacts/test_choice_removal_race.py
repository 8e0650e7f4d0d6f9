"""Removing a choice of an attribute while a contact is being given that choice. The removal is
refused while contacts hold the value; a contact write that had checked the value against the old
choices and had not committed yet used to slip past that check, leaving a removed value stored."""

import threading

import pytest
from django.db import connection

from contacts import services
from contacts.models import AttributeDefinition, Contact
from contacts.services import contacts as contact_service
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.errors import ValidationFailed
from tests.factories import TenantFactory


@pytest.mark.django_db(transaction=True)
def test_a_choice_cannot_be_removed_under_a_contact_write_that_takes_it(monkeypatch):
    tenant = TenantFactory()
    with tenant_context(tenant):
        definition = services.attribute_definition_create(
            tenant=tenant, key="plan", label="Plan", type="choice", choices=["free", "pro"]
        )
        contact = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "r@example.com"})
    checked, go_on = threading.Event(), threading.Event()
    real_check_unique = contact_service._check_unique

    def paused_check_unique(**kwargs):  # the write has checked "pro" against the choices: hold it here
        checked.set()
        assert go_on.wait(10)
        return real_check_unique(**kwargs)

    monkeypatch.setattr(contact_service, "_check_unique", paused_check_unique)
    outcome: dict[str, object] = {}

    def write() -> None:
        try:
            with tenant_context(tenant):
                services.contact_update(
                    tenant=tenant,
                    actor=SYSTEM_ACTOR,
                    contact_id=contact.pk,
                    data={"attributes": {"plan": "pro"}},
                )
            outcome["write"] = "ok"
        except BaseException as exc:
            outcome["write"] = exc
        finally:
            connection.close()

    def remove() -> None:
        try:
            with tenant_context(tenant):
                services.attribute_definition_update(
                    tenant=tenant, definition_id=definition.pk, changes={"choices": ["free"]}
                )
            outcome["remove"] = "ok"
        except ValidationFailed as exc:
            outcome["remove"] = exc.errors
        except BaseException as exc:
            outcome["remove"] = exc
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    assert checked.wait(10)
    remover = threading.Thread(target=remove)
    remover.start()
    remover.join(1.0)  # it must wait for the write: the write has read the choices it checked against
    go_on.set()
    writer.join(10)
    remover.join(10)

    assert outcome["write"] == "ok"
    assert isinstance(outcome["remove"], list), f"the removal went through: {outcome['remove']!r}"
    assert [e["code"] for e in outcome["remove"]] == ["in_use"], outcome["remove"]
    assert Contact.objects.unscoped().get(pk=contact.pk).attributes == {"plan": "pro"}
    assert AttributeDefinition.objects.unscoped().get(pk=definition.pk).choices == ["free", "pro"]
