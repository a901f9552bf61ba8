"""Legal holds: while a hold is active, what it covers is neither deleted nor changed — by retention
runs (re-checked at execution, batch by batch) or by an erasure request (deferred, with the hold
named in the reply).

A hold covers datasets (every row of them), subjects (their tokens) or review cases (their ids). It
is active from ``starts_at`` until ``ends_at`` or its release. Releasing a hold proposes a catch-up
retention run straight away: rows that fell due while held are still past their cutoff, so the
dry-run finds them, and it waits for approval like any other run.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from dos.audit import actor_label, audit_record
from dos.authz import action, authorize
from dos.errors import DomainError, FieldErrors
from privacy.models import HoldScope, LegalHold
from privacy.retention.holds import active_holds, case_ids, holds_covering_subject  # noqa: F401 (the holds API)

HOLD_PLACE = action("legal_hold.place", "privacy.manage")
HOLD_RELEASE = action("legal_hold.release", "privacy.manage")
MAX_TARGETS = 1000


class HoldStateError(DomainError):
    status, code = 409, "hold_released"


def _clean_targets(scope: str, targets) -> list[str]:
    from privacy.retention.datasets import DATASETS

    if scope not in HoldScope.values:
        raise FieldErrors({"scope": [f"One of {', '.join(HoldScope.values)}."]})
    if not isinstance(targets, (list, tuple)) or not targets or len(targets) > MAX_TARGETS:
        raise FieldErrors({"targets": [f"A list of 1 to {MAX_TARGETS} names."]})
    targets = sorted({str(t).strip() for t in targets if str(t).strip()})
    if scope == HoldScope.CASES:
        targets = sorted({(case_ids([t]) or [t])[0] for t in targets})  # ids in their canonical form
    if scope == HoldScope.DATASETS:
        unknown = [t for t in targets if t not in DATASETS]
        if unknown:
            raise FieldErrors({"targets": [f"Unknown datasets: {', '.join(unknown)} (known: {', '.join(DATASETS)})."]})
    if scope == HoldScope.SUBJECTS and any(not t.startswith("vt_") for t in targets):
        raise FieldErrors({"targets": ["Subjects are named by their vt_ token."]})
    if scope == HoldScope.CASES:
        _check_cases(targets)
    return targets


def _check_cases(targets: list[str]) -> None:
    """Case targets are ids of review cases of this organisation (the caller's org scope)."""
    from hitl.models import Case

    ids = case_ids(targets)
    malformed = [t for t in targets if not case_ids([t])]
    if malformed:
        raise FieldErrors({"targets": [f"Cases are named by their id (a UUID): {', '.join(malformed[:5])}."]})
    known = {str(pk) for pk in Case.objects.filter(id__in=ids).values_list("id", flat=True)}
    unknown = [t for t in ids if t not in known]
    if unknown:
        raise FieldErrors({"targets": [f"No such review case in this organisation: {', '.join(unknown[:5])}."]})


def hold_place(*, org_id, actor, scope: str, targets, reason: str, reference: str = "", starts_at=None,
               ends_at=None) -> LegalHold:
    actor = authorize(actor, HOLD_PLACE)
    targets = _clean_targets(scope, targets)
    reason = (reason or "").strip()
    if not reason:
        raise FieldErrors({"reason": ["Say why the data must be kept (the matter, the authority)."]})
    starts_at = starts_at or timezone.now()
    if ends_at is not None and ends_at <= starts_at:
        raise FieldErrors({"ends_at": ["The end must be after the start."]})
    with transaction.atomic():
        hold = LegalHold.objects.create(org_id=org_id, scope=scope, targets=targets, reason=reason[:500],
                                        reference=(reference or "")[:120], starts_at=starts_at, ends_at=ends_at,
                                        created_by=actor_label(actor))
        audit_record(org_id=org_id, action="legal_hold.placed", actor=actor, target=f"legal_hold:{hold.id}",
                     data={"scope": scope, "targets": len(targets), "reason": reason[:200]})
    return hold


def hold_release(*, hold: LegalHold, actor, now=None) -> LegalHold:
    """End a hold; retention that was held back is proposed again at once (a catch-up dry-run)."""
    from privacy.retention.services import retention_plan

    actor = authorize(actor, HOLD_RELEASE)
    now = now or timezone.now()
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if hold.released_at is not None:
            raise HoldStateError("This hold is released already.")
        hold.released_at, hold.released_by = now, actor_label(actor)
        hold.save(update_fields=["released_at", "released_by"])
        audit_record(org_id=hold.org_id, action="legal_hold.released", actor=actor, target=f"legal_hold:{hold.id}",
                     data={"scope": hold.scope})
        retention_plan(org_id=hold.org_id, actor=actor, now=now, catch_up_for=hold)
    return hold
