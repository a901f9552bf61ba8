"""Seal, unseal, erase: the vault's services (ADR 0015).

- ``seal`` encrypts under the subject's data key (created on first use, wrapped by the org's KEK
  version). Data keys are cached unwrapped in the process for a short while, so sealing costs one
  AES-GCM call; the cache never decides whether a value may be *read*.
- ``unseal`` needs ``vault.unseal``; a person also needs a second person's approval (four eyes,
  ``tenancy.approvals``), and the purpose must be covered by the subject's consent or a lawful basis
  (the privacy consent selectors). Every unseal is on the audit chain (place, purpose, key id — never
  the value or a key).
- ``erase_subject`` destroys the subject's wrapped data key (crypto-shredding): idempotent, and a
  subject never seen before is recorded as erased so later seals are refused.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connection, transaction
from django.utils import timezone

import privacy.vault.crypto as crypto
from dos.audit import actor_label, audit_record
from dos.authz import PermissionRefused, action, authorize, is_system
from dos.scope import org_scope
from dos.vault import Erased, VaultError
from privacy.models import KekRotation, RotationStatus, SubjectKey
from privacy.principals import refuse_platform
from privacy.vault.keystore import KeystoreError, key_provider

log = structlog.get_logger(__name__)

SEAL = action("vault.seal", "vault.seal")
UNSEAL = action("vault.unseal", "vault.unseal")
UNSEAL_REQUEST = action("vault.unseal_request", "vault.unseal")
ERASE = action("vault.erase_subject", "dsar.fulfil")
APPROVAL_ACTION = "vault.unseal"  # the four-eyes action of tenancy.approvals
APPROVAL_VALID = dt.timedelta(hours=24)
CACHE_SECONDS = 60.0
RECHECK_SECONDS = 2.0  # a cached key seals without asking the database for at most this long
CACHE_SIZE = 10_000
# Purposes the product itself reads sealed values for, and the lawful basis each rests on; any other
# purpose must be covered by the subject's consent or a basis the org configured. Each is bound to the
# code path that reads for it (``_internal_purpose_allowed``): a caller cannot simply claim one.
INTERNAL_PURPOSES = {
    "hitl.case_note": "legitimate_interest",  # a reviewer re-reads a case-note original under four eyes
    "decision.audit": "legal_obligation",  # a person re-reads a recorded decision's input under four eyes
    "decision.replay": "legal_obligation",  # re-evaluating a recorded decision (a job)
    "dsar.access": "legal_obligation",  # the subject's own access request (the DSAR job)
}
JOB_PURPOSES = frozenset({"decision.replay", "dsar.access"})  # never a person's or an API key's
NOTE_TABLE = "hitl_casenote"  # case-note originals: read for ``hitl.case_note`` only
DECISION_TABLE, DECISION_FIELD = "decisions_decisionrecord", "input"  # recorded decision inputs (``decision.replay``)
# A subject request's own sealed copies (working copy, details, export, erasure receipt): sealed in
# the request's row under a key of the request's own (privacy.dsar: request_key_token,
# receipt_key_token), opened by its job for ``dsar.access`` without a hand-over — the subject's
# values reach them only through a collection made under the approved hand-over.
REQUEST_TABLE, REQUEST_KEY_PREFIX, RECEIPT_KEY_PREFIX = "privacy_dsarrequest", "dsar:", "dsar-receipt:"


class UnsealRefused(PermissionRefused):
    def __init__(self, message: str, code: str = "four_eyes", permission: str = "vault.unseal"):
        super().__init__(message, permission=permission, code=code)


class ConsentMissing(PermissionRefused):
    def __init__(self, purpose: str):
        super().__init__(f"Nothing covers reading this subject's data for '{purpose}': no valid consent and no "
                         "lawful basis configured for that purpose.", permission="vault.unseal",
                         code="consent_missing")


class RetiredKek(VaultError):
    """A data key wrapped by a KEK version a completed rotation retired (a restored backup, a stale copy)."""

    def __init__(self, message: str, *, org_id, key_id, kek_version: int, accepted_from: int):
        super().__init__(message, code="kek_retired")
        self.org_id, self.key_id, self.kek_version, self.accepted_from = org_id, key_id, kek_version, accepted_from


def _record_refusal(refused: RetiredKek, actor) -> None:
    """On the audit chain in its own (sub)transaction: the refused operation itself rolls back."""
    with org_scope(refused.org_id):
        audit_record(org_id=refused.org_id, action="vault.retired_kek_refused",
                     actor=actor_label(actor) if actor else "system:vault", target=f"subject_key:{refused.key_id}",
                     data={"kek_version": refused.kek_version, "accepted_from": refused.accepted_from})


@dataclass(frozen=True)
class ErasureResult:
    subject_token: str
    erased_at: dt.datetime
    already_erased: bool
    key_id: uuid.UUID


class _KeyCache:
    """(org, subject) → (key id, version, cipher), least recently used first out, short-lived."""

    def __init__(self, size: int = CACHE_SIZE, seconds: float = CACHE_SECONDS, clock=time.monotonic):
        self.size, self.seconds, self.clock = size, seconds, clock
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, org_id, subject_token: str):
        key = (str(org_id), subject_token)
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < self.clock():
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return item[1]

    def checked_recently(self, org_id, subject_token: str) -> bool:
        """The key row was seen alive (not erased) less than ``RECHECK_SECONDS`` ago."""
        with self._lock:
            item = self._items.get((str(org_id), subject_token))
            return item is not None and self.clock() - item[2] < RECHECK_SECONDS

    def confirm(self, org_id, subject_token: str) -> None:
        with self._lock:
            item = self._items.get((str(org_id), subject_token))
            if item is not None:
                self._items[(str(org_id), subject_token)] = (item[0], item[1], self.clock())

    def put(self, org_id, subject_token: str, value) -> None:
        with self._lock:
            now = self.clock()
            self._items[(str(org_id), subject_token)] = (now + self.seconds, value, now)
            self._items.move_to_end((str(org_id), subject_token))
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, org_id, subject_token: str | None = None) -> None:
        with self._lock:
            if subject_token is not None:
                self._items.pop((str(org_id), subject_token), None)
            else:
                for key in [k for k in self._items if k[0] == str(org_id)]:
                    del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


data_keys = _KeyCache()


def kek_lock_id(org_id) -> int:
    """The advisory lock that orders data-key creation against a rotation's start and completion."""
    return zlib.crc32(f"vault.kek:{org_id}".encode()) - 2**31


def org_kek_state(org_id) -> tuple[int, int]:
    """(the KEK version new data keys of the org are wrapped with, the lowest version still accepted)."""
    provider = key_provider()
    latest = (KekRotation.objects.filter(org_id=org_id, status__in=[RotationStatus.RUNNING, RotationStatus.COMPLETED])
              .order_by("-to_version").values_list("to_version", "status").first())
    completed = (KekRotation.objects.filter(org_id=org_id, status=RotationStatus.COMPLETED)
                 .order_by("-to_version").values_list("to_version", flat=True).first())
    current = max(provider.active_version(), latest[0] if latest else 0)
    return current, completed or 0


def unwrap(row: SubjectKey, *, actor=None) -> bytes:
    """The plain data key of ``row``; a KEK version retired for the org is refused (and logged)."""
    if row.erased_at is not None or row.wrapped_key is None:
        raise Erased("The subject was erased: the data key no longer exists.")
    _current, floor = org_kek_state(row.org_id)
    if row.kek_version < floor:
        log.warning("vault.retired_kek_refused", org_id=str(row.org_id), key_id=str(row.id),
                    kek_version=row.kek_version, accepted_from=floor)
        raise RetiredKek(f"KEK version {row.kek_version} was retired for this org by a completed rotation; "
                         "the data key is refused.", org_id=row.org_id, key_id=row.id,
                         kek_version=row.kek_version, accepted_from=floor)
    try:
        return key_provider().unwrap(row.kek_version, bytes(row.wrapped_key),
                                     crypto.wrap_aad(row.org_id, row.id, row.subject_token, row.kek_version))
    except KeystoreError as exc:
        log.warning("vault.unwrap_failed", org_id=str(row.org_id), key_id=str(row.id), kek_version=row.kek_version)
        raise VaultError("The data key cannot be unwrapped with the configured keystore.", code="kek_unavailable") from exc


def _create_key(org_id, subject_token: str) -> SubjectKey:
    """Insert the subject's data key (or find the one a concurrent caller inserted)."""
    with connection.cursor() as cur:  # shared: a rotation's start and completion wait for us (exclusive)
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", [kek_lock_id(org_id)])
    kek_version, _floor = org_kek_state(org_id)
    key_id = uuid.uuid4()
    wrapped = key_provider().wrap(kek_version, crypto.new_data_key(),
                                  crypto.wrap_aad(org_id, key_id, subject_token, kek_version))
    SubjectKey.objects.bulk_create([SubjectKey(id=key_id, org_id=org_id, subject_token=subject_token,
                                               kek_version=kek_version, wrapped_key=wrapped)],
                                   ignore_conflicts=True)
    return SubjectKey.objects.get(org_id=org_id, subject_token=subject_token)


def _sealing_key(org_id, subject_token: str):
    cached = data_keys.get(org_id, subject_token)
    if cached is not None:
        if data_keys.checked_recently(org_id, subject_token):
            return cached
        # Another process may have erased the subject (its cache drop reaches only itself): ask the
        # key row again, at most every RECHECK_SECONDS per subject.
        with org_scope(org_id):
            alive = SubjectKey.objects.filter(org_id=org_id, id=cached[0], erased_at__isnull=True).exists()
        if alive:
            data_keys.confirm(org_id, subject_token)
            return cached
        data_keys.drop(org_id, subject_token)
        raise Erased("The subject was erased: nothing more is sealed for them.")
    with org_scope(org_id):
        row = SubjectKey.objects.filter(org_id=org_id, subject_token=subject_token).first()
        if row is None:
            row = _create_key(org_id, subject_token)
        if row.erased_at is not None:
            raise Erased("The subject was erased: nothing more is sealed for them.")
        value = (row.id, row.version, AESGCM(unwrap(row)))
        # Cached only once committed: a rolled-back transaction must not leave a key that never existed.
        transaction.on_commit(lambda: data_keys.put(org_id, subject_token, value))
    return value


def seal(*, actor, org_id, subject_token: str, table: str, row: str, field: str, plaintext: bytes) -> str:
    """Encrypt ``plaintext`` under the subject's data key, bound to org, table, row and field."""
    authorize(actor, SEAL)
    if not subject_token:
        raise VaultError("Sealing needs the subject the value belongs to.", code="subject_required")
    try:
        key_id, version, cipher = _sealing_key(org_id, subject_token)
    except RetiredKek as refused:
        _record_refusal(refused, actor)
        raise
    return crypto.encrypt(cipher, org_id=org_id, key_id=key_id, key_version=version, table=table, row=str(row),
                          field=field, plaintext=plaintext)


def _request_own(parsed: crypto.Sealed, subject_token: str) -> bool:
    """A copy a request sealed in its own row under its own key (``dsar:<id>`` / ``dsar-receipt:<id>``)."""
    return parsed.table == REQUEST_TABLE and subject_token in (f"{REQUEST_KEY_PREFIX}{parsed.row}",
                                                               f"{RECEIPT_KEY_PREFIX}{parsed.row}")


def _internal_purpose_allowed(actor, parsed: crypto.Sealed, purpose: str, *, subject_token: str, approval) -> None:
    """The product's own purposes belong to their code paths: the job ones to jobs — ``decision.replay``
    to recorded decision inputs, ``dsar.access`` to a subject's values under the access request's
    approved hand-over (checked with it) or to the request's own copies; ``hitl.case_note`` to
    case-note originals (read through the case page's reveal); ``decision.audit`` to a person whose
    four-eyes approval names the value (checked with the approval)."""
    if purpose in JOB_PURPOSES and not is_system(actor):
        raise UnsealRefused(f"'{purpose}' is the product's own use of sealed values; a person or a key cannot "
                            "read for it.", code="purpose_not_allowed")
    if purpose == "decision.replay" and parsed.table != DECISION_TABLE:
        raise UnsealRefused("'decision.replay' reads recorded decision inputs only.", code="purpose_not_allowed")
    if purpose == "dsar.access" and approval is None and not _request_own(parsed, subject_token):
        raise UnsealRefused("Reading a subject's values for an access request needs the request's approved "
                            "hand-over (dsar.export, a second person).", code="handover_required",
                            permission="dsar.fulfil")
    if purpose == "hitl.case_note" and parsed.table != NOTE_TABLE:
        raise UnsealRefused("'hitl.case_note' reads case-note originals only.", code="purpose_not_allowed")
    if purpose == "decision.audit" and getattr(actor, "user", None) is None:
        raise UnsealRefused("'decision.audit' is a person's four-eyes read.", code="purpose_not_allowed")
    if purpose == "hitl.case_note" and not is_system(actor) and getattr(actor, "user", None) is None:
        raise UnsealRefused("Case-note originals are read by a person under four eyes.", code="purpose_not_allowed")


def _purpose_basis(org_id, subject_token: str, purpose: str) -> str:
    if purpose in INTERNAL_PURPOSES:
        return INTERNAL_PURPOSES[purpose]
    from privacy import consent as consent_selectors

    covering = consent_selectors.consent_covering(org_id=org_id, subject_token=subject_token, purpose=purpose)
    if covering is not None:
        return f"consent:{covering.pk}"
    basis = consent_selectors.lawful_without_consent(org_id=org_id, purpose=purpose)
    if basis:
        return basis
    raise ConsentMissing(purpose)


def _check_approval(approval, *, user, org_id, target: tuple[str, ...] | None, now) -> None:
    from tenancy.choices import ApprovalStatus

    if approval is None:
        raise UnsealRefused("Reading sealed personal data needs a second person's approval (four eyes): "
                            "request it, and a colleague holding 'vault.unseal' approves it.")
    approval = type(approval).objects.select_for_update().get(pk=approval.pk)
    if (approval.action != APPROVAL_ACTION or approval.org_id != org_id or approval.requested_by_id != user.pk
            or approval.status != ApprovalStatus.APPROVED or approval.decided_by_id in (None, user.pk)):
        raise UnsealRefused("That approval does not let you read this value.")
    if target is not None and approval.target not in target:
        raise UnsealRefused("That approval was given for another value.")
    if approval.decided_at and approval.decided_at < now - APPROVAL_VALID:
        raise UnsealRefused("That approval expired (24 hours); request a new one.", code="approval_expired")
    if "unsealed_at" in approval.payload:
        raise UnsealRefused("That approval was used already; request a new one.", code="approval_used")
    approval.payload = {**approval.payload, "unsealed_at": now.isoformat()}
    approval.save(update_fields=["payload"])


HANDOVER_ACTION = "dsar.export"  # an access request's four-eyes hand-over (privacy.dsar.services)


def _check_handover(approval, *, org_id, subject_token: str, purpose: str) -> None:
    """A job opening the subject's values for an access request's export does so under the request's
    approved hand-over: same org, same subject, approved by a second person, for ``dsar.access``."""
    from tenancy.choices import ApprovalStatus

    approval = type(approval).objects.get(pk=approval.pk)
    if (approval.action != HANDOVER_ACTION or purpose != "dsar.access" or approval.org_id != org_id
            or approval.status != ApprovalStatus.APPROVED or approval.decided_by_id in (None, approval.requested_by_id)
            or approval.payload.get("subject_token") != subject_token):
        raise UnsealRefused("That approval does not hand this subject's data over.")


def approval_target(sealed) -> str:
    parsed = crypto.parse(sealed)
    return f"sealed:{parsed.key_id}:{parsed.place}"


def approval_targets(parsed: crypto.Sealed) -> tuple[str, ...]:
    """The approval targets that name this value: the value itself, or — for a case-note original —
    the note (the case page's reveal asks for ``case_note:<id>``)."""
    own = (f"sealed:{parsed.key_id}:{parsed.place}",)
    return own + ((f"case_note:{parsed.row}",) if parsed.table == NOTE_TABLE else ())


def unseal(*, actor, org_id, sealed, purpose: str, approval=None, now=None) -> bytes:
    """The plaintext of a sealed value, for an actor holding ``vault.unseal`` (a person: with an
    approved four-eyes request), for a purpose the subject's consent or a lawful basis covers."""
    actor = refuse_platform(authorize(actor, UNSEAL), permission="vault.unseal", org_id=org_id)
    parsed = crypto.parse(sealed)
    try:
        return _unseal(actor, org_id, sealed, parsed, purpose, approval, now or timezone.now())
    except RetiredKek as refused:
        _record_refusal(refused, actor)
        raise


def _unseal(actor, org_id, sealed, parsed: crypto.Sealed, purpose: str, approval, now) -> bytes:
    with org_scope(org_id):
        row = SubjectKey.objects.filter(org_id=org_id, id=parsed.key_id).first()
        if row is None:
            raise VaultError("The sealed value does not open here (another org or place, or tampered).")
        if row.erased_at is not None:
            raise Erased("The subject was erased: this value can never be read again.")
        _internal_purpose_allowed(actor, parsed, purpose, subject_token=row.subject_token, approval=approval)
        basis = _purpose_basis(org_id, row.subject_token, purpose)
        user = getattr(actor, "user", None)
        if user is not None:
            _check_approval(approval, user=user, org_id=org_id, target=approval_targets(parsed), now=now)
        elif approval is not None:
            _check_handover(approval, org_id=org_id, subject_token=row.subject_token, purpose=purpose)
        plaintext = crypto.decrypt(AESGCM(unwrap(row, actor=actor)), org_id=org_id, sealed=parsed)
        audit_record(org_id=org_id, action="vault.unsealed", actor=actor_label(actor),
                     target=f"{parsed.table}:{parsed.row}",
                     data={"field": parsed.field, "purpose": purpose, "basis": basis, "key": str(row.id),
                           "approval": str(approval.pk) if approval is not None else None})
    return plaintext


def unseal_request(*, actor, org_id, sealed, reason: str = ""):
    """Ask to read one sealed value; a second holder of ``vault.unseal`` approves it (four eyes)."""
    from tenancy.approvals import approval_require
    from tenancy.models import Org

    actor = refuse_platform(authorize(actor, UNSEAL_REQUEST), permission="vault.unseal", org_id=org_id)
    user = getattr(actor, "user", None)
    if user is None:
        raise UnsealRefused("Asking to read personal data needs a person.", code="person_required")
    parsed = crypto.parse(sealed)
    with org_scope(org_id):
        if not SubjectKey.objects.filter(org_id=org_id, id=parsed.key_id).exists():
            raise VaultError("The sealed value does not open here (another org or place, or tampered).")
        return approval_require(org=Org.objects.get(id=org_id), action=APPROVAL_ACTION,
                                target=approval_target(sealed), requested_by=user,
                                payload={"place": parsed.place}, reason=(reason or "")[:500])


def erase_subject(*, actor, org_id, subject_token: str, reason: str) -> ErasureResult:
    """Destroy the subject's data key: every value sealed for them becomes unreadable (idempotent)."""
    actor = authorize(actor, ERASE)
    if not subject_token:
        raise VaultError("Erasure needs the subject's token.", code="subject_required")
    now = timezone.now()
    with org_scope(org_id), transaction.atomic():
        row = SubjectKey.objects.select_for_update().filter(org_id=org_id, subject_token=subject_token).first()
        if row is None:  # never sealed for: a tombstone, so nothing is sealed for them later either
            tombstone_id = uuid.uuid4()
            SubjectKey.objects.bulk_create([SubjectKey(id=tombstone_id, org_id=org_id, subject_token=subject_token,
                                                       kek_version=0, wrapped_key=None, erased_at=now,
                                                       erased_reason=(reason or "")[:200])],
                                           ignore_conflicts=True)
            row = SubjectKey.objects.select_for_update().get(org_id=org_id, subject_token=subject_token)
            already = row.id != tombstone_id and row.erased_at is not None
        else:
            already = row.erased_at is not None
        if row.erased_at is None:
            row.wrapped_key, row.erased_at, row.erased_reason = None, now, (reason or "")[:200]
            row.save(update_fields=["wrapped_key", "erased_at", "erased_reason"])
        if not already:
            audit_record(org_id=org_id, action="vault.subject_erased", actor=actor_label(actor),
                         target=f"subject_key:{row.id}", data={"reason": (reason or "")[:200]})
            log.info("vault.subject_erased", org_id=str(org_id), key_id=str(row.id))
        transaction.on_commit(lambda: data_keys.drop(org_id, subject_token))
    data_keys.drop(org_id, subject_token)
    return ErasureResult(subject_token=subject_token, erased_at=row.erased_at, already_erased=already, key_id=row.id)


def is_erased(*, org_id, subject_token: str) -> bool:
    with org_scope(org_id):
        return SubjectKey.objects.filter(org_id=org_id, subject_token=subject_token, erased_at__isnull=False).exists()


class VaultV2:
    """The implementation registered in ``dos.vault`` for the apps below privacy."""

    seal = staticmethod(seal)
    unseal = staticmethod(unseal)
    erase_subject = staticmethod(erase_subject)
    is_erased = staticmethod(is_erased)

    def __repr__(self) -> str:
        return "<VaultV2 (privacy.vault)>"


VAULT = VaultV2()
