"""What imports and exports keep of an erased contact (contacts.gdpr erasure steps).

An import's failed rows (errors.csv) are kept as uploaded, with no column naming a contact: the
rows holding one of the contact's emails, phones or its external id, or whose reasons name its id,
are deleted. The uploads of finished imports go (later imports delete theirs when they finish).
An export written before the erasure is not served again (exports.export_open).
"""

from __future__ import annotations

import logging
import re

import phonenumbers
from django.core.files.storage import default_storage
from django.db import transaction

from contacts.gdpr import ErasedKeys
from contacts.normalization import canonical_email
from contacts_service.models import Tenant
from imports.models import FINAL_STATUSES, ImportJob, ImportRowError

logger = logging.getLogger(__name__)
_PHONE_LIKE = re.compile(r"[\d\s().+/-]{6,40}")


def _national_numbers(phones) -> set[str]:
    """The national significant numbers of stored E.164 phones (6 digits or more: shorter ones would
    match unrelated numbers)."""
    numbers = set()
    for phone in phones:
        try:
            number = str(phonenumbers.parse(phone).national_number)
        except phonenumbers.NumberParseException:  # not E.164 (stored before numbers were checked)
            continue
        if len(number) >= 6:
            numbers.add(number)
    return numbers


def _holds(keys: ErasedKeys, national: set[str], cell: str) -> bool:
    """Whether a cell is one of the contact's emails (any spelling), its external id (any case) or
    one of its phones written any way: its digits end with the national number, after at most a
    country code or trunk prefix (06 12 34 56 78, 0033 6.., +33 (0)6..)."""
    value = cell.strip()
    if not value:
        return False
    if "@" in value:
        return canonical_email(value) in keys.emails
    if keys.external_id and value.casefold() == keys.external_id.casefold():
        return True
    if national and _PHONE_LIKE.fullmatch(value):
        digits = re.sub(r"\D", "", value)
        return any(digits.endswith(number) and len(digits) - len(number) <= 5 for number in national)
    return False


def import_traces_erase(tenant: Tenant, keys: ErasedKeys) -> None:
    contact_id, national = str(keys.contact_id), _national_numbers(keys.phones)
    doomed = []
    rows = ImportRowError.objects.for_tenant(tenant).values_list("pk", "row", "errors")
    for pk, cells, errors in rows.iterator(chunk_size=2000):
        held = any(isinstance(cell, str) and _holds(keys, national, cell) for cell in cells or ())
        if held or contact_id in str(errors):
            doomed.append(pk)
    for start in range(0, len(doomed), 5000):
        ImportRowError.objects.for_tenant(tenant).filter(pk__in=doomed[start : start + 5000]).delete()
    finished = ImportJob.objects.for_tenant(tenant).filter(status__in=FINAL_STATUSES).exclude(file="")
    for job_id, name in list(finished.values_list("pk", "file")):
        ImportJob.objects.for_tenant(tenant).filter(pk=job_id).update(file="")
        upload_discard(name)


def upload_discard(name: str) -> None:
    """Delete an upload once the transaction commits (nothing reads it after its job ends)."""

    def delete() -> None:
        try:
            default_storage.delete(name)
        except Exception:  # a storage blink: the file stays, nothing else fails
            logger.warning("could not delete the upload %s", name, exc_info=True)

    if name:
        transaction.on_commit(delete)
