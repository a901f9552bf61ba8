"""Seat levels: how many seats of each role an org holds on each day (Asia/Seoul).

The daily sync counts people from memberships (each person once, in their highest seat role:
admin > reviewer > agent; roles without a seat — billing admin, auditor, read-only… — are free) and
writes a level only when a count changed. Billing staff may set a level by hand (contracted seats).
Rating reads the levels as a step function (billing.rating.proration)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from billing.models import SeatLevel, SeatRole
from billing.periods import seoul_day
from dos.audit import audit_record
from dos.authz import PermissionRefused, action, authorize
from dos.errors import FieldErrors
from tenancy.choices import OrgRole
from tenancy.models import Membership

SEATS_SET = action("seats.set", "billing.manage")

SEAT_OF_ROLE = {
    OrgRole.OWNER: SeatRole.ADMIN, OrgRole.ADMIN: SeatRole.ADMIN,
    OrgRole.REVIEWER: SeatRole.REVIEWER, OrgRole.SENIOR_REVIEWER: SeatRole.REVIEWER, OrgRole.QA: SeatRole.REVIEWER,
    OrgRole.AGENT: SeatRole.AGENT,
}
RANK = {SeatRole.ADMIN: 3, SeatRole.REVIEWER: 2, SeatRole.AGENT: 1}


def seat_counts_now(org_id) -> dict[str, int]:
    """People per seat role from the org's memberships, each person in one seat role."""
    best: dict = {}
    for user_id, role in Membership.objects.filter(org_id=org_id).values_list("user_id", "role"):
        seat = SEAT_OF_ROLE.get(role)
        if seat and RANK[seat] > RANK.get(best.get(user_id), 0):
            best[user_id] = seat
    counts = {role: 0 for role in SeatRole.values}
    for seat in best.values():
        counts[seat] += 1
    return counts


def seat_levels_in_force(org_id, on: dt.date) -> dict[str, int]:
    levels = {role: 0 for role in SeatRole.values}
    for level in SeatLevel.objects.filter(org_id=org_id, since__lte=on).order_by("role", "since"):
        levels[level.role] = level.quantity
    return levels


def _write(org_id, role: str, on: dt.date, quantity: int, *, source: str, recorded_by: str) -> SeatLevel:
    level, _ = SeatLevel.objects.update_or_create(
        org_id=org_id, role=role, since=on,
        defaults={"quantity": quantity, "source": source, "recorded_by": recorded_by, "recorded_at": timezone.now()})
    return level


def seats_sync(*, org_id, actor, now: dt.datetime | None = None) -> dict[str, int]:
    """Record today's seat counts where they differ from the level in force (idempotent). Returns
    the roles that changed with their new counts."""
    actor = _platform(authorize(actor, SEATS_SET), "sync seat levels")
    today = seoul_day(now or timezone.now())
    with transaction.atomic():
        current, wanted = seat_levels_in_force(org_id, today), seat_counts_now(org_id)
        changed = {role: n for role, n in wanted.items() if current[role] != n}
        for role, quantity in changed.items():
            _write(org_id, role, today, quantity, source="sync", recorded_by=_label(actor))
        if changed:
            audit_record(org_id=org_id, action="billing.seats_synced", actor=actor, target=f"org:{org_id}",
                         data={"day": today.isoformat(), "seats": changed})
    return changed


def seats_set(*, org_id, role: str, quantity: int, since: dt.date, actor, reason: str) -> SeatLevel:
    """Set a seat level by hand (a contract's committed seats). Platform finance only."""
    actor = _platform(authorize(actor, SEATS_SET), "set seat levels by hand")
    errors = {}
    if role not in SeatRole.values:
        errors["role"] = [f"One of {', '.join(SeatRole.values)}."]
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        errors["quantity"] = ["A whole number of seats, 0 or more."]
    if not reason.strip():
        errors["reason"] = ["Say why."]
    if errors:
        raise FieldErrors(errors)
    with transaction.atomic():
        level = _write(org_id, role, since, quantity, source="manual", recorded_by=_label(actor))
        audit_record(org_id=org_id, action="billing.seats_set", actor=actor, target=f"org:{org_id}",
                     data={"role": role, "quantity": quantity, "since": since.isoformat(), "reason": reason.strip()})
    return level


def _platform(actor, what: str):
    """Seat levels are what the org is billed for: a billing job or platform finance writes them."""
    if not getattr(actor, "platform", False):
        raise PermissionRefused(f"Only platform finance or the billing job may {what}.", permission="billing.manage",
                                code="platform_only")
    return actor


def _label(actor) -> str:
    label = getattr(actor, "audit_label", None)
    return label() if callable(label) else str(actor)[:120]
