"""Writes of the consent history: grant, revoke (one consent, or a subject's for some purposes) and
the expiry sweep. Each is one transaction, authorized here, and audited on the org's chain; the rows
themselves are append-only in the database (privacy migration 0001)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from decisions.services import subject_token
from dos.audit import actor_label, audit_record
from dos.authz import action, authorize
from dos.errors import DomainError, FieldErrors
from privacy.models import Consent, ConsentEvent, ConsentEventKind, LawfulBasis

CONSENT_GRANT = action("consent.grant", "privacy.manage")
CONSENT_REVOKE = action("consent.revoke", "privacy.manage")
CONSENT_EXPIRE = action("consent.expire", "privacy.manage")

ENDED = (ConsentEventKind.REVOKED, ConsentEventKind.EXPIRED)


class ConsentEnded(DomainError):
    """The consent was revoked or expired already (409; ``ended`` says how and when)."""

    status, code = 409, "consent_ended"


class ConsentWindowInvalid(DomainError):
    """``valid_until`` is not after ``valid_from`` (409 ``consent_window``, naming the field)."""

    status, code = 409, "consent_window"


def subject_token_of(org_id, subject_id: str) -> str:
    """The subject's token, as /decide computes it — consents and decisions meet on it."""
    return subject_token(org_id, subject_id)


def _clean_names(values, field: str) -> list[str]:
    names = [str(v).strip() for v in values or ()]
    if any(not n or len(n) > 64 for n in names):
        raise FieldErrors({field: ["Each must be 1–64 characters."]})
    return sorted(set(names))


def consent_grant(*, org_id, subject_token: str, purposes, source: str, actor, scopes=(),
                  lawful_basis: str = LawfulBasis.CONSENT, evidence_ref: str = "", valid_from: datetime | None = None,
                  valid_until: datetime | None = None, now: datetime | None = None) -> Consent:
    """Record a consent the subject gave (with its ``granted`` event), audited."""
    actor = authorize(actor, CONSENT_GRANT)
    now = now or timezone.now()
    valid_from = valid_from or now
    purposes, scopes = _clean_names(purposes, "purposes"), _clean_names(scopes, "scopes")
    errors = {}
    if not purposes:
        errors["purposes"] = ["Name at least one purpose."]
    if lawful_basis not in LawfulBasis.values:
        errors["lawful_basis"] = [f"One of: {', '.join(LawfulBasis.values)}."]
    if not source.strip():
        errors["source"] = ["Say where the consent was collected."]
    if errors:
        raise FieldErrors(errors)
    # A window already closed is allowed (consents collected earlier are recorded as they were); one
    # that ends before it starts contradicts itself — 409, as the schema cannot compare two dates.
    if valid_until is not None and valid_until <= valid_from:
        raise ConsentWindowInvalid(f"valid_until ({valid_until.isoformat()}) is not later than valid_from "
                                   f"({valid_from.isoformat()}).", errors={"valid_until": [
                                       "Must be later than valid_from (default: now)."]})
    label = actor_label(actor)
    with transaction.atomic():
        consent = Consent.objects.create(
            org_id=org_id, subject_token=subject_token, purposes=purposes, scopes=scopes, lawful_basis=lawful_basis,
            source=source.strip(), evidence_ref=evidence_ref, valid_from=valid_from, valid_until=valid_until,
            recorded_at=now, recorded_by=label)
        ConsentEvent.objects.create(org_id=org_id, consent=consent, subject_token=subject_token,
                                    kind=ConsentEventKind.GRANTED, at=valid_from, recorded_at=now, actor=label)
        audit_record(org_id=org_id, action="consent.granted", actor=actor, target=f"consent:{consent.id}", data={
            "subject": subject_token, "purposes": purposes, "scopes": scopes, "lawful_basis": lawful_basis,
            "valid_from": valid_from.isoformat(), "valid_until": valid_until.isoformat() if valid_until else None})
    return consent


def _end(consent: Consent, *, kind: str, at: datetime, actor, reason: str, now: datetime) -> ConsentEvent:
    """Append the consent's end event; ConsentEnded when it has one already (also under a race:
    the database's one-end constraint decides)."""
    existing = ConsentEvent.objects.filter(org_id=consent.org_id, consent=consent, kind__in=ENDED).first()
    if existing is not None:
        raise ConsentEnded(f"This consent was {existing.kind} at {existing.at.isoformat()}.",
                           ended={"kind": existing.kind, "at": existing.at.isoformat()})
    try:
        with transaction.atomic():
            event = ConsentEvent.objects.create(org_id=consent.org_id, consent=consent,
                                                subject_token=consent.subject_token, kind=kind, at=at,
                                                recorded_at=now, actor=actor_label(actor), reason=reason[:200])
    except IntegrityError as exc:
        raise ConsentEnded("This consent has just ended.") from exc
    audit_record(org_id=consent.org_id, action=f"consent.{kind}", actor=actor, target=f"consent:{consent.id}",
                 data={"subject": consent.subject_token, "purposes": list(consent.purposes), "at": at.isoformat(),
                       "reason": reason[:200]})
    return event


def consent_revoke(*, consent: Consent, actor, reason: str = "", now: datetime | None = None) -> ConsentEvent:
    """The subject withdrew this consent: it stops covering anything from now on."""
    actor = authorize(actor, CONSENT_REVOKE)
    now = now or timezone.now()
    with transaction.atomic():
        return _end(consent, kind=ConsentEventKind.REVOKED, at=now, actor=actor, reason=reason, now=now)


def _current(org_id, now):
    ended = ConsentEvent.objects.filter(org_id=org_id, consent_id=OuterRef("id"), kind__in=ENDED)
    return Consent.objects.filter(org_id=org_id).exclude(Exists(ended))


def consent_revoke_subject(*, org_id, subject_token: str, actor, purposes=(), reason: str = "",
                           now: datetime | None = None) -> list[ConsentEvent]:
    """Withdraw every current consent of the subject (only those naming one of ``purposes``, when
    given). Returns the revocations; none when nothing was current."""
    actor = authorize(actor, CONSENT_REVOKE)
    now = now or timezone.now()
    purposes = _clean_names(purposes, "purposes")
    with transaction.atomic():
        current = _current(org_id, now).filter(subject_token=subject_token).exclude(valid_until__lte=now)
        if purposes:
            current = current.filter(purposes__overlap=purposes)
        return [_end(c, kind=ConsentEventKind.REVOKED, at=now, actor=actor, reason=reason, now=now)
                for c in current.select_for_update().order_by("valid_from", "id")]


def consent_expire_due(*, org_id, actor, now: datetime | None = None, batch: int = 500) -> int:
    """The sweep: every consent whose window closed gets its ``expired`` event (at ``valid_until``).
    Idempotent — a consent ends once; a revoke racing the sweep wins or loses cleanly."""
    actor = authorize(actor, CONSENT_EXPIRE)
    now = now or timezone.now()
    done = 0
    while True:
        with transaction.atomic():
            due = list(_current(org_id, now).filter(valid_until__lte=now).order_by("valid_until", "id")[:batch])
            for consent in due:
                try:
                    with transaction.atomic():
                        _end(consent, kind=ConsentEventKind.EXPIRED, at=consent.valid_until, actor=actor,
                             reason="validity ended", now=now)
                    done += 1
                except ConsentEnded:
                    continue
        if len(due) < batch:
            return done
