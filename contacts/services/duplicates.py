"""Duplicate candidates and the tenant's matching rules.

A pair of live contacts is a candidate when all keys of at least one of the tenant's rules match
(MatchKey: email, phone, external_id, name, company). Emails are the contact's own and its email
identifiers (gmail-style folding of dots and +suffix only when the tenant opts in); phones its own
and its phone/sms/whatsapp identifiers (all E.164); external_id ignores case; name is the trigram
similarity of display names (contacts with a first or last name) at or above the tenant's
threshold; company is equality ignoring case and surrounding spaces.

Score (0-100): 100 x (1 - product of (1 - weight)) over the matched keys, weights email 0.9,
phone 0.8, external_id 0.95, name 0.6 x similarity, company 0.2.

An email or phone held by more than DUPLICATES_MAX_GROUP live contacts (a switchboard, a shared
inbox) pairs no one, and a contact gets at most that many name candidates (the most similar): both
keep the pairs linear in the number of contacts.

On PostgreSQL one statement finds the pairs (self-joins on the keys, pg_trgm `%` for names),
upserts them and drops open pairs that no longer match, for the whole tenant or only the pairs
involving some contacts. Dismissed pairs are never touched, so they do not come back. Other
databases (the embedded SQLite default) take a plain Python pass over the tenant.
"""

from __future__ import annotations

import itertools
import logging
import re
import struct
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts.models import (
    DEFAULT_MATCH_RULES,
    DEFAULT_NAME_SIMILARITY,
    Contact,
    ContactIdentifier,
    DuplicateCandidate,
    MatchingRules,
    MatchKey,
    MergeStrategy,
)
from contacts_service.context import Actor
from contacts_service.errors import Conflict, NotFound, ValidationFailed
from contacts_service.models import Tenant

logger = logging.getLogger(__name__)

IDENTITY_KEYS = {MatchKey.EMAIL, MatchKey.PHONE, MatchKey.EXTERNAL_ID}
MAX_RULES = 20
WEIGHTS = {"email": 0.9, "phone": 0.8, "external_id": 0.95, "company": 0.2}
NAME_WEIGHT = 0.6
PHONE_CHANNELS = ("phone", "sms", "whatsapp")
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


# -- matching rules -------------------------------------------------------------------------------


def matching_rules_get(*, tenant: Tenant) -> MatchingRules:
    """The tenant's rules; the defaults (unsaved) when it never set any."""
    found = MatchingRules.objects.for_tenant(tenant).first()
    return found or MatchingRules(
        tenant=tenant,
        rules=DEFAULT_MATCH_RULES,
        email_gmail_folding=False,
        name_similarity=DEFAULT_NAME_SIMILARITY,
        merge_strategy=MergeStrategy.FILL_EMPTY,
        updated_at=None,
    )


def _clean_rules(rules: Any) -> list[list[str]]:
    if not isinstance(rules, list):
        raise ValidationFailed([{"field": "rules", "code": "invalid", "message": "Must be a list of rules."}])
    if len(rules) > MAX_RULES:
        raise ValidationFailed(
            [{"field": "rules", "code": "max_length", "message": f"At most {MAX_RULES} rules."}]
        )
    errors, cleaned = [], []
    for index, rule in enumerate(rules):
        path = f"rules.{index}"
        if not isinstance(rule, list) or not rule:
            errors.append(
                {"field": path, "code": "invalid", "message": "A rule is a non-empty list of keys."}
            )
            continue
        bad = [i for i, key in enumerate(rule) if key not in MatchKey.values]
        if bad:
            errors.extend(
                {"field": f"{path}.{i}", "code": "invalid_choice",
                 "message": f"Unknown key; one of {', '.join(MatchKey.values)}."} for i in bad
            )  # fmt: skip
            continue
        keys = sorted(set(rule), key=MatchKey.values.index)
        if len(keys) != len(rule):
            errors.append({"field": path, "code": "duplicate", "message": "A key is named twice."})
            continue
        if not (IDENTITY_KEYS & set(keys) or {MatchKey.NAME, MatchKey.COMPANY} <= set(keys)):
            errors.append(
                {"field": path, "code": "too_broad",
                 "message": "A rule needs email, phone or external_id, or both name and company."}
            )  # fmt: skip
            continue
        if keys in cleaned:
            errors.append({"field": path, "code": "duplicate", "message": "The same rule is given twice."})
            continue
        cleaned.append(keys)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


@transaction.atomic
def matching_rules_update(
    *,
    tenant: Tenant,
    actor: Actor,
    rules: Any = None,
    email_gmail_folding: bool = False,
    name_similarity: float = DEFAULT_NAME_SIMILARITY,
    merge_strategy: str = MergeStrategy.FILL_EMPTY,
) -> MatchingRules:
    """Replace the tenant's rules (what is not given takes its default); the candidates are
    recomputed for the whole tenant once this commits."""
    cleaned = _clean_rules(DEFAULT_MATCH_RULES if rules is None else rules)
    if not 0.3 <= name_similarity <= 1:
        raise ValidationFailed(
            [{"field": "name_similarity", "code": "invalid", "message": "Must be between 0.3 and 1."}]
        )
    if merge_strategy not in MergeStrategy.values:
        raise ValidationFailed(
            [{"field": "merge_strategy", "code": "invalid_choice",
              "message": f"One of {', '.join(MergeStrategy.values)}."}]
        )  # fmt: skip
    values = {
        "rules": cleaned,
        "email_gmail_folding": email_gmail_folding,
        "name_similarity": name_similarity,
        "merge_strategy": merge_strategy,
        "updated_at": timezone.now(),
        "updated_by": actor.as_dict(),
    }
    try:
        with transaction.atomic():
            rules_row, _ = MatchingRules.objects.for_tenant(tenant).update_or_create(
                tenant=tenant, defaults=values
            )
    except IntegrityError:  # the first rules of the tenant, created concurrently: now there is a row
        rules_row, _ = MatchingRules.objects.for_tenant(tenant).update_or_create(
            tenant=tenant, defaults=values
        )
    duplicates_recompute_later(tenant_id=tenant.pk)
    return rules_row


# -- candidates -----------------------------------------------------------------------------------


def duplicates_check(tenant_id: uuid.UUID | str, contact_ids: Iterable[uuid.UUID | str]) -> None:
    """Look for duplicates of these contacts (new, changed, imported) in a task once the current
    transaction commits (right away outside one). For batch callers: one task per call."""
    ids = sorted({str(i) for i in contact_ids})
    if not ids:
        return

    def enqueue() -> None:
        from contacts.tasks import duplicates_check_task

        duplicates_check_task.delay(str(tenant_id), ids)

    # robust: a broker hiccup after the commit must not turn the caller's committed write into an error.
    transaction.on_commit(enqueue, robust=True)


def duplicates_recompute_later(*, tenant_id: uuid.UUID | str) -> None:
    def enqueue() -> None:
        from contacts.tasks import duplicates_recompute_task

        duplicates_recompute_task.delay(str(tenant_id))

    transaction.on_commit(enqueue, robust=True)


def _rules_sql(rules: Sequence[Sequence[str]]) -> str:
    """The WHERE condition of the tenant's rules over the `matched` columns. Each key is checked
    against MatchKey again here, where it is pasted into SQL: a stored row may not have gone
    through _clean_rules (admin, data migration)."""
    for rule in rules:
        for key in rule:
            if key not in MatchKey.values:
                raise ValueError(f"Unknown matching rule key {key!r}")
    ors = [" AND ".join(f"m.{key}" for key in rule) for rule in rules if rule]
    return " OR ".join(f"({part})" for part in ors) if ors else "false"


_SCORE_SQL = (
    "round(100 * (1 - (CASE WHEN m.email THEN 0.1 ELSE 1 END) * (CASE WHEN m.phone THEN 0.2 ELSE 1 END)"
    " * (CASE WHEN m.external_id THEN 0.05 ELSE 1 END) * (CASE WHEN m.name THEN 1 - 0.6 * m.sim ELSE 1 END)"
    " * (CASE WHEN m.company THEN 0.8 ELSE 1 END)))::smallint"
)

_SQL = """
WITH scope AS (
    SELECT c.id FROM contacts_contact c
    WHERE c.tenant_id = %(tenant)s AND c.deleted_at IS NULL AND (%(all)s OR c.id = ANY(%(ids)s::uuid[]))
),
scope_emails AS (
    SELECT c.id AS cid, {email_key} AS k FROM contacts_contact c JOIN scope s ON s.id = c.id
    WHERE c.email IS NOT NULL
    UNION
    SELECT i.contact_id, {ident_key} FROM contacts_contactidentifier i JOIN scope s ON s.id = i.contact_id
    WHERE i.tenant_id = %(tenant)s AND i.channel = 'email'
),
scope_phones AS (
    SELECT c.id AS cid, c.phone AS k FROM contacts_contact c JOIN scope s ON s.id = c.id
    WHERE c.phone IS NOT NULL
    UNION
    SELECT i.contact_id, i.value FROM contacts_contactidentifier i JOIN scope s ON s.id = i.contact_id
    WHERE i.tenant_id = %(tenant)s AND i.channel IN ('phone', 'sms', 'whatsapp')
),
-- Every live holder of a key value one of the scope has; a value more than max_group contacts hold
-- (a switchboard phone, a shared inbox) is no evidence and would make quadratically many pairs.
email_holders AS (
    SELECT c.id AS cid, {email_key} AS k FROM contacts_contact c
    WHERE c.tenant_id = %(tenant)s AND c.deleted_at IS NULL AND c.email IS NOT NULL
        AND {email_key} IN (SELECT k FROM scope_emails)
    UNION
    SELECT i.contact_id, {ident_key} FROM contacts_contactidentifier i
    JOIN contacts_contact c ON c.id = i.contact_id AND c.deleted_at IS NULL
    WHERE i.tenant_id = %(tenant)s AND i.channel = 'email' AND {ident_key} IN (SELECT k FROM scope_emails)
),
phone_holders AS (
    SELECT c.id AS cid, c.phone AS k FROM contacts_contact c
    WHERE c.tenant_id = %(tenant)s AND c.deleted_at IS NULL AND c.phone IN (SELECT k FROM scope_phones)
    UNION
    SELECT i.contact_id, i.value FROM contacts_contactidentifier i
    JOIN contacts_contact c ON c.id = i.contact_id AND c.deleted_at IS NULL
    WHERE i.tenant_id = %(tenant)s AND i.channel IN ('phone', 'sms', 'whatsapp')
        AND i.value IN (SELECT k FROM scope_phones)
),
emails_kept AS (SELECT k FROM email_holders GROUP BY k HAVING count(*) <= %(max_group)s),
phones_kept AS (SELECT k FROM phone_holders GROUP BY k HAVING count(*) <= %(max_group)s),
found AS (
    SELECT e.cid AS a, h.cid AS b, 'email' AS key FROM scope_emails e
    JOIN emails_kept USING (k) JOIN email_holders h ON h.k = e.k
    UNION ALL
    SELECT p.cid, h.cid, 'phone' FROM scope_phones p
    JOIN phones_kept USING (k) JOIN phone_holders h ON h.k = p.k
    UNION ALL
    SELECT a.id, b.id, 'external_id' FROM contacts_contact a JOIN scope s ON s.id = a.id
    JOIN contacts_contact b ON b.tenant_id = %(tenant)s AND b.deleted_at IS NULL AND b.external_id IS NOT NULL
        AND lower(b.external_id) = lower(a.external_id)
    WHERE a.external_id IS NOT NULL
    UNION ALL
    -- The most similar names only, max_group per contact: a common name is no reason for thousands of pairs.
    SELECT a.id, b.id, 'name' FROM contacts_contact a JOIN scope s ON s.id = a.id
    CROSS JOIN LATERAL (
        SELECT b.id FROM contacts_contact b
        WHERE b.tenant_id = %(tenant)s AND b.deleted_at IS NULL AND b.id <> a.id
            AND upper(b.display_name::text) %% upper(a.display_name::text)
            AND (b.first_name <> '' OR b.last_name <> '')
        ORDER BY similarity(upper(b.display_name::text), upper(a.display_name::text)) DESC, b.id
        LIMIT %(max_group)s
    ) b
    WHERE %(use_name)s AND (a.first_name <> '' OR a.last_name <> '')
),
pairs AS (
    SELECT LEAST(f.a, f.b) AS a, GREATEST(f.a, f.b) AS b,
        bool_or(f.key = 'email') AS email, bool_or(f.key = 'phone') AS phone,
        bool_or(f.key = 'external_id') AS external_id
    FROM found f WHERE f.a <> f.b
    GROUP BY 1, 2
),
keyed AS (
    SELECT p.*, (ca.company <> '' AND lower(btrim(ca.company)) = lower(btrim(cb.company))) AS company,
        CASE WHEN (ca.first_name <> '' OR ca.last_name <> '') AND (cb.first_name <> '' OR cb.last_name <> '')
            -- similarity() is a float4 (0.7 is 0.69999999): read it as its shortest decimal, the
            -- value the Python pass computes, so "at least the threshold" holds at the threshold.
            THEN similarity(upper(ca.display_name::text), upper(cb.display_name::text))::numeric::float8
        END AS sim
    FROM pairs p
    JOIN contacts_contact ca ON ca.id = p.a AND ca.deleted_at IS NULL
    JOIN contacts_contact cb ON cb.id = p.b AND cb.deleted_at IS NULL
),
matched AS (
    SELECT m.* FROM (SELECT k.*, coalesce(k.sim >= %(threshold)s, false) AS name FROM keyed k) m
    WHERE {rules}
),
upserted AS (
    INSERT INTO contacts_duplicatecandidate AS d
        (id, tenant_id, contact_a_id, contact_b_id, match_email, match_phone, match_external_id, match_name,
         match_company, name_similarity, score, detected_at, updated_at, dismissed_at, dismissed_by)
    SELECT gen_random_uuid(), %(tenant)s, m.a, m.b, m.email, m.phone, m.external_id, m.name, m.company, m.sim,
        {score}, %(now)s, %(now)s, NULL, '{{}}'::jsonb
    FROM matched m
    ON CONFLICT (tenant_id, contact_a_id, contact_b_id) DO UPDATE SET
        match_email = EXCLUDED.match_email, match_phone = EXCLUDED.match_phone,
        match_external_id = EXCLUDED.match_external_id, match_name = EXCLUDED.match_name,
        match_company = EXCLUDED.match_company, name_similarity = EXCLUDED.name_similarity,
        score = EXCLUDED.score, updated_at = EXCLUDED.updated_at
        WHERE d.dismissed_at IS NULL
    RETURNING 1
),
dropped AS (
    DELETE FROM contacts_duplicatecandidate d
    WHERE d.tenant_id = %(tenant)s AND d.dismissed_at IS NULL
        AND (%(all)s OR d.contact_a_id = ANY(%(ids)s::uuid[]) OR d.contact_b_id = ANY(%(ids)s::uuid[]))
        AND NOT EXISTS (SELECT 1 FROM matched m WHERE m.a = d.contact_a_id AND m.b = d.contact_b_id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM dropped)
"""


def duplicates_recompute(*, tenant: Tenant, contact_ids: Sequence[uuid.UUID | str] | None = None) -> int:
    """Find the candidate pairs of the whole tenant (contact_ids None) or those involving some
    contacts, upsert them and drop open pairs that no longer match. Returns the number of pairs found."""
    rules = matching_rules_get(tenant=tenant)
    ids = [str(i) for i in contact_ids] if contact_ids is not None else []
    if contact_ids is not None and not ids:
        return 0
    if connection.vendor != "postgresql":
        return _recompute_python(
            tenant=tenant, rules=rules, ids=set(ids) if contact_ids is not None else None
        )
    with transaction.atomic():
        return _recompute_postgres(tenant=tenant, rules=rules, contact_ids=contact_ids, ids=ids)


def _recompute_postgres(*, tenant: Tenant, rules: MatchingRules, contact_ids, ids: list[str]) -> int:
    """One statement: find, upsert and drop (in the caller's transaction)."""
    fold = rules.email_gmail_folding
    sql = _SQL.format(
        email_key="contacts_gmail_key(c.email)" if fold else "c.email",
        ident_key="contacts_gmail_key(i.value)" if fold else "i.value",
        rules=_rules_sql(rules.rules),
        score=_SCORE_SQL,
    )
    params = {
        "tenant": tenant.pk,
        "all": contact_ids is None,
        "ids": ids,
        "use_name": any(MatchKey.NAME in rule for rule in rules.rules),
        "threshold": rules.name_similarity,
        "max_group": settings.DUPLICATES_MAX_GROUP,
        "now": timezone.now(),
    }
    with connection.cursor() as cursor:
        # `%` (pg_trgm) uses this threshold; local to the transaction. Given as the float4 the
        # similarity is computed in: 0.7 given as 0.7 turned away names exactly 0.7 similar.
        cursor.execute(
            "SELECT set_config('pg_trgm.similarity_threshold', %s, true)",
            [repr(_float4(rules.name_similarity))],
        )
        cursor.execute(sql, params)
        found, dropped = cursor.fetchone()
    logger.info(
        "duplicates: %d pairs found, %d dropped (%s)", found, dropped, "tenant" if not ids else len(ids)
    )
    return found


def _float4(value: float) -> float:
    """The value PostgreSQL's real (4-byte float) holds for this number."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _fold(email: str, fold: bool) -> str:
    local, _, domain = email.partition("@")
    if fold and domain in GMAIL_DOMAINS:
        return local.split("+", 1)[0].replace(".", "") + "@gmail.com"
    return email


_WORD = re.compile(r"[^\W_]+")


def _trigrams(text: str) -> set[str]:
    grams = set()
    for word in _WORD.findall(text.lower()):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def trigram_similarity(a: str, b: str) -> float:
    """pg_trgm's similarity(a, b): the words (letters and digits) of each, lower-cased and padded
    with two spaces before and one after, cut into trigrams; shared trigrams over all of them."""
    ta, tb = _trigrams(a or ""), _trigrams(b or "")
    if not ta or not tb:
        return 0.0
    shared = len(ta & tb)
    return shared / (len(ta) + len(tb) - shared)


def _recompute_python(*, tenant: Tenant, rules: MatchingRules, ids: set[str] | None) -> int:
    """The same without PostgreSQL: pairs sharing a key (company included), names compared with
    trigram_similarity (pg_trgm's similarity, so both databases pair the same contacts). Read and
    compared outside any transaction, only the writes in one: SQLite's write lock (IMMEDIATE
    transactions) is held for the writes alone, not while the tenant's contacts are compared (seconds
    at 20,000 contacts, during which every other writer waited and then failed "database is locked").
    A check of some contacts pairs them only (not every pair of a key they share: a company of 150
    contacts was 11,000 pairs a check)."""
    read_at = timezone.now()
    contacts = {str(c.pk): c for c in Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True)}
    keys: dict[str, dict[str, set[str]]] = {"email": defaultdict(set), "phone": defaultdict(set)}
    for c in contacts.values():
        if c.email:
            keys["email"][_fold(c.email, rules.email_gmail_folding)].add(str(c.pk))
        if c.phone:
            keys["phone"][c.phone].add(str(c.pk))
        if c.external_id:
            keys.setdefault("external_id", defaultdict(set))[c.external_id.lower()].add(str(c.pk))
        if c.company.strip():
            keys.setdefault("company", defaultdict(set))[c.company.strip().lower()].add(str(c.pk))
    identifiers = ContactIdentifier.objects.for_tenant(tenant).filter(contact_id__in=list(contacts))
    for contact_id, channel, value in identifiers.values_list("contact_id", "channel", "value"):
        if channel == "email":
            keys["email"][_fold(value, rules.email_gmail_folding)].add(str(contact_id))
        elif channel in PHONE_CHANNELS:
            keys["phone"][value].add(str(contact_id))
    matches: dict[tuple[str, str], set[str]] = defaultdict(set)
    for key, groups in keys.items():
        for members in groups.values():
            if key in ("email", "phone") and len(members) > settings.DUPLICATES_MAX_GROUP:
                continue  # a value this many contacts share is no evidence (as on PostgreSQL)
            if ids is None:
                pairs = itertools.combinations(sorted(members), 2)
            else:
                pairs = {(min(a, b), max(a, b)) for a in members & ids for b in members if a != b}
            for pair in pairs:
                matches[pair].add(key)
    found = []
    for (a, b), matched in matches.items():
        ca, cb = contacts[a], contacts[b]
        sim = None
        if (ca.first_name or ca.last_name) and (cb.first_name or cb.last_name):
            sim = trigram_similarity(ca.display_name, cb.display_name)
            if sim >= rules.name_similarity:
                matched.add("name")
        if not any(set(rule) <= matched for rule in rules.rules):
            continue
        keep = 1.0
        for key in matched:
            keep *= 1 - (NAME_WEIGHT * sim if key == "name" else WEIGHTS[key])
        found.append((a, b, matched, sim, round(100 * (1 - keep))))
    with transaction.atomic():
        _store_python(tenant, found, ids, timezone.now(), read_at=read_at)
    return len(found)


def _store_python(tenant: Tenant, found: list[tuple], ids: set[str] | None, now, *, read_at) -> None:
    """Upsert the pairs found; drop the open pairs that no longer match. A pair written since this
    pass read the contacts (a concurrent check's, of contacts created meanwhile) is not stale: this
    pass never compared them."""
    # Compared outside this transaction: a contact deleted or erased since is no candidate any more
    # (an erased one would fail the foreign key at commit).
    involved = {c for a, b, *_ in found for c in (a, b)}
    live = {
        str(pk)
        for pk in Contact.objects.for_tenant(tenant)
        .filter(pk__in=involved, deleted_at__isnull=True)
        .values_list("pk", flat=True)
    }
    found = [pair for pair in found if pair[0] in live and pair[1] in live]
    candidates = DuplicateCandidate.objects.for_tenant(tenant)
    existing = {(str(d.contact_a_id), str(d.contact_b_id)): d for d in candidates}
    for a, b, matched, sim, score in found:
        row = existing.pop((a, b), None) or DuplicateCandidate(tenant=tenant, contact_a_id=a, contact_b_id=b)
        if row.dismissed_at is None:
            for key in MatchKey.values:
                setattr(row, f"match_{key}", key in matched)
            row.name_similarity, row.score, row.updated_at = sim, score, now
            row.save()
    stale = [
        d.pk
        for (a, b), d in existing.items()
        if d.dismissed_at is None and d.updated_at < read_at and (ids is None or a in ids or b in ids)
    ]
    candidates.filter(pk__in=stale).delete()


def _candidate(tenant: Tenant, candidate_id: uuid.UUID) -> DuplicateCandidate:
    """A pair of two live contacts, as GET /duplicates/ lists them: a pair with a deleted contact is
    hidden, like the contact (404), and its state does not change."""
    found = (
        DuplicateCandidate.objects.for_tenant(tenant)
        .select_for_update(of=("self",))
        .filter(pk=candidate_id, contact_a__deleted_at__isnull=True, contact_b__deleted_at__isnull=True)
        .first()
    )
    if found is None:
        raise NotFound("Duplicate candidate not found.")
    return found


@transaction.atomic
def duplicate_dismiss(*, tenant: Tenant, actor: Actor, candidate_id: uuid.UUID) -> DuplicateCandidate:
    """Mark a pair as not the same person: it stays dismissed, recomputing never reopens it."""
    candidate = _candidate(tenant, candidate_id)
    if candidate.dismissed_at is not None:
        raise Conflict("This pair is dismissed already.", code="already_dismissed")
    candidate.dismissed_at = timezone.now()
    candidate.dismissed_by = actor.as_dict()
    candidate.save(update_fields=["dismissed_at", "dismissed_by"])
    return candidate


@transaction.atomic
def duplicate_reopen(*, tenant: Tenant, actor: Actor, candidate_id: uuid.UUID) -> DuplicateCandidate:
    """Undo a dismissal: the pair is checked again after commit (and dropped if it no longer matches)."""
    candidate = _candidate(tenant, candidate_id)
    if candidate.dismissed_at is None:
        raise Conflict("This pair is not dismissed.", code="not_dismissed")
    candidate.dismissed_at = None
    candidate.dismissed_by = {}
    candidate.save(update_fields=["dismissed_at", "dismissed_by"])
    duplicates_check(tenant.pk, [candidate.contact_a_id])
    return candidate
