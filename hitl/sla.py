"""SLA rungs (SPEC §10): warn at ``warn_at``, breach at ``sla_due_at``.

The beat job runs every minute. Cases are claimed with ``FOR UPDATE SKIP LOCKED`` (two sweeps never
work on the same case at once) and each rung is recorded in ``SlaMark`` under a unique
(org, case, rung) constraint, inserted before anything else happens: a rung whose mark already
exists is skipped, so a warning or an escalation happens exactly once however often, and however
concurrently, the job runs.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from hitl.choices import CaseStatus, SlaRung
from hitl.models import Case, SlaMark
from hitl.services import case_event, clock, notify


def _claim(rung: str, now: dt.datetime, limit: int):
    due_field = "warn_at" if rung == SlaRung.WARN else "sla_due_at"
    marked = SlaMark.objects.filter(rung=rung).values("case_id")
    return list(Case.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(**{f"{due_field}__lte": now}).exclude(status=CaseStatus.CLOSED).exclude(id__in=marked)
                .select_related("owner", "queue", "sla_policy").order_by(due_field)[:limit])


def _mark(case: Case, rung: str, now: dt.datetime) -> bool:
    try:
        with transaction.atomic():
            SlaMark.objects.create(org_id=case.org_id, case=case, rung=rung, at=now)
    except IntegrityError:
        return False  # another sweep recorded this rung first
    return True


def sla_sweep(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Warn and breach due cases of the current org scope; returns how many of each."""
    from hitl.actions import case_escalate

    now = now or clock()
    done = {"warned": 0, "breached": 0}
    with transaction.atomic():
        for case in _claim(SlaRung.WARN, now, limit):
            if not _mark(case, SlaRung.WARN, now):
                continue
            case_event(case, "sla_warning", "system:sla", {"due": case.sla_due_at.isoformat()})
            if case.owner is not None:
                notify(user=case.owner, case=case, email=True,
                       text=f"{case} is due at {case.sla_due_at:%Y-%m-%d %H:%M} UTC (SLA warning).")
            done["warned"] += 1
    with transaction.atomic():
        for case in _claim(SlaRung.BREACH, now, limit):
            if not _mark(case, SlaRung.BREACH, now):
                continue
            actions = list(case.sla_policy.breach_actions) if case.sla_policy else ["notify", "auto_escalate"]
            case.sla_breached = True
            case.save(update_fields=["sla_breached"])
            case_event(case, "sla_breach", "system:sla", {"due": case.sla_due_at.isoformat(), "actions": actions})
            if "notify" in actions and case.owner is not None:
                notify(user=case.owner, case=case, email=True, text=f"{case} breached its SLA.")
            if "auto_escalate" in actions:
                case_escalate(case, actor="system:sla", reason="SLA breached", now=now, bump=True)
            done["breached"] += 1
    return done
