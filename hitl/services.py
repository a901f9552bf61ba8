"""Opening and assigning review cases — one service for the decide path, the tenant API and the
admin. Every step writes a CaseEvent for the timeline and an entry on the audit chain."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from dos.audit import actor_label, audit_record
from hitl.choices import CaseSource, Priority, TaskKind, TaskStatus
from hitl.models import DEFAULT_SLA_HOURS, Case, CaseEvent, Notification, Queue, SLAPolicy, Task
from hitl.routing import case_attributes, queue_choose, reviewer_pick, waiting_cases

PRIORITY_ORDER = [Priority.P0, Priority.P1, Priority.P2, Priority.P3]
DEFAULT_WARN_RATIO = Decimal("0.75")


def clock() -> dt.datetime:
    """The time HITL uses; tests pass ``now=`` explicitly or patch this."""
    return timezone.now()


def case_event(case: Case, kind: str, actor, data: dict | None = None) -> CaseEvent:
    """A timeline entry, chained on the audit chain in the same transaction."""
    label = actor_label(actor)
    data = data or {}
    appended = audit_record(org_id=case.org_id, action=f"hitl.case.{kind}", actor=label, target=f"case:{case.id}",
                            data=data)
    return CaseEvent.objects.create(org_id=case.org_id, case=case, kind=kind, actor=label, data=data,
                                    ledger_seq=appended.seq)


def notify(*, user, case: Case, text: str, email: bool = False) -> None:
    Notification.objects.create(org_id=case.org_id, user=user, case=case, text=text[:300])
    if email and user.email:
        # After commit: a rolled-back change must not have sent mail.
        transaction.on_commit(lambda: send_mail(f"[DecisionOS] {text[:120]}", text, None, [user.email],
                                                fail_silently=True))


def notifications_read(*, user, ids=None, now: dt.datetime | None = None) -> int:
    """Mark the person's notifications (all, or those ids) as read; returns how many changed."""
    unread = Notification.objects.filter(user_id=user.pk, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=now or clock())


def sla_window(case: Case, policy: SLAPolicy | None, start: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(warn_at, sla_due_at) for the case's priority from ``start``."""
    hours = policy.hours_for(case.priority) if policy else DEFAULT_SLA_HOURS[case.priority]
    ratio = policy.warn_ratio if policy else DEFAULT_WARN_RATIO
    due = start + dt.timedelta(hours=hours)
    return start + dt.timedelta(seconds=hours * 3600 * float(ratio)), due


def case_open(*, org_id, project, source: str, priority: str = Priority.P2, reason_codes=(), product: str = "",
              risk_score=None, summary: dict | None = None, decision=None, created_by=None, actor=None,
              now: dt.datetime | None = None) -> Case:
    """Open a case: route it to a queue, start its SLA clock, create its review task and assign a
    reviewer if one has capacity (otherwise it waits and is picked up when capacity frees)."""
    if priority not in Priority.values:
        raise ValueError(f"priority must be one of {', '.join(Priority.values)}")
    now = now or clock()
    with transaction.atomic():
        case = Case(org_id=org_id, project=project, decision=decision, source=source, priority=priority,
                    reason_codes=list(reason_codes), product=product[:64], summary=summary or {},
                    risk_score=risk_score, created_by=created_by, created_by_label=actor_label(actor or created_by),
                    created_at=now, updated_at=now)
        if not Queue.objects.exists():
            from hitl.setup import desk_install_defaults

            desk_install_defaults(org_id=org_id, actor="system:hitl")  # an org's first case sets up its desk
        case.queue = queue_choose(case_attributes(case, project.slug))
        case.sla_policy_id = case.queue.sla_policy_id
        case.warn_at, case.sla_due_at = sla_window(case, case.queue.sla_policy, now)
        case.save(force_insert=True)
        Task.objects.create(org_id=org_id, case=case, kind=TaskKind.REVIEW, queue=case.queue, due_at=case.sla_due_at,
                            created_at=now, updated_at=now)
        case_event(case, "opened", actor or created_by, {
            "source": source, "queue": case.queue.name, "priority": priority, "reason_codes": list(reason_codes),
            "decision": str(decision.id) if decision else None})
        case_assign(case, now=now, exclude_user_ids=[created_by.pk] if created_by else ())
    return case


def case_assign(case: Case, *, now: dt.datetime | None = None, exclude_user_ids=()) -> bool:
    """Give the case to the next reviewer of its queue; False when nobody has capacity."""
    now = now or clock()
    exclude = {*exclude_user_ids, case.created_by_id}
    if case.in_appeal:  # an appeal never goes to someone who decided the case before
        from hitl.appeals import appeal_excluded_reviewers

        exclude |= appeal_excluded_reviewers(case)
    profile = reviewer_pick(case.queue, exclude_user_ids=exclude)
    if profile is None:
        return False
    case.owner_id = profile.user_id
    case.updated_at = now
    case.save(update_fields=["owner", "updated_at"])
    Task.objects.filter(case=case, kind=TaskKind.REVIEW).exclude(status=TaskStatus.DONE).update(
        assignee_id=profile.user_id, updated_at=now)
    if case.in_appeal:
        from hitl.appeals import appeal_assigned

        appeal_assigned(case)
    case_event(case, "assigned", "system:routing", {"owner": f"user:{profile.user_id}", "queue": case.queue.name})
    notify(user=profile.user, case=case, text=f"{case} ({case.get_priority_display()}) was assigned to you.")
    return True


def assign_waiting(queue: Queue, *, now: dt.datetime | None = None, limit: int = 50) -> int:
    """Hand unassigned cases of the queue to reviewers who have capacity again."""
    assigned = 0
    for case in waiting_cases(queue, limit=limit):
        if not case_assign(case, now=now):
            break
        assigned += 1
    return assigned


def case_move(case: Case, queue: Queue, *, actor, reason: str, now: dt.datetime | None = None) -> None:
    """Move a case to another queue (escalation), freeing its owner and assigning anew."""
    now = now or clock()
    previous = case.queue
    case.queue = queue
    case.owner = None
    case.updated_at = now
    case.save(update_fields=["queue", "owner", "updated_at"])
    Task.objects.filter(case=case, kind=TaskKind.REVIEW).exclude(status=TaskStatus.DONE).update(
        queue=queue, assignee=None, updated_at=now)
    case_event(case, "moved", actor, {"from": previous.name, "to": queue.name, "reason": reason})


def priority_bumped(priority: str) -> str:
    index = PRIORITY_ORDER.index(priority)
    return PRIORITY_ORDER[max(0, index - 1)]


def decision_case_open(*, record, evaluation, project, actor=None) -> Case:
    """The decide path's hook: a ``review`` decision opens a case in the decision's transaction.

    The priority comes from the fired ``require_hitl`` actions (``{action: require_hitl, priority: p1}``,
    the most urgent wins; p2 when none says); product and risk score from the input when present."""
    priorities = [a.get("priority") for a in evaluation.actions
                  if a.get("action") == "require_hitl" and a.get("priority") in Priority.values]
    priority = min(priorities, key=PRIORITY_ORDER.index) if priorities else Priority.P2
    snapshot = record.snapshot or {}
    risk = snapshot.get("risk_score")
    return case_open(
        org_id=record.org_id, project=project, source=CaseSource.DECIDE, priority=priority,
        reason_codes=[r["code"] for r in record.reason_codes], product=str(snapshot.get("product", "") or ""),
        risk_score=Decimal(str(risk)) if isinstance(risk, int | float) else None, summary=snapshot,
        decision=record, actor=actor)

