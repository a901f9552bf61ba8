"""Opening and assigning review cases — one service for the decide path, the tenant API and the
admin. Every step writes a CaseEvent for the timeline and an entry on the audit chain."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from dos.audit import actor_label, audit_record
from dos.authz import action, authorize
from dos.counters import org_counter_take
from dos.pii import mask_text
from dos.sqlbatch import bulk_insert
from hitl.choices import OPEN_APPEAL_STATUSES, AppealStatus, CaseSource, Priority, TaskKind, TaskStatus
from hitl.models import DEFAULT_SLA_HOURS, Appeal, Case, CaseEvent, Notification, Queue, SLAPolicy, Task
from hitl.routing import (
    case_attributes,
    choose_among,
    open_depths,
    overflow_of,
    reviewer_pick,
    reviewers_pick_many,
    waiting_cases,
)

CASE_NUMBERS = "hitl.case"  # the org counter series of case numbers (dos.counters)
PRIORITY_ORDER = [Priority.P0, Priority.P1, Priority.P2, Priority.P3]
DEFAULT_WARN_RATIO = Decimal("0.75")


def clock() -> dt.datetime:
    """The time HITL uses; tests pass ``now=`` explicitly or patch this."""
    return timezone.now()


FREE_TEXT_KEYS = frozenset({"comment", "reason", "note", "detail", "name"})  # "name": an uploaded file's name


def case_event(case: Case, kind: str, actor, data: dict | None = None) -> CaseEvent:
    """A timeline entry, chained on the audit chain in the same transaction. Free text (comments,
    reasons) is stored with personal identifiers masked: chained rows can never be redacted later."""
    label = actor_label(actor)
    data = {k: mask_text(v) if k in FREE_TEXT_KEYS and isinstance(v, str) else v for k, v in (data or {}).items()}
    appended = audit_record(org_id=case.org_id, action=f"hitl.case.{kind}", actor=label, target=f"case:{case.id}",
                            data=data)
    return CaseEvent.objects.create(org_id=case.org_id, case=case, kind=kind, actor=label, data=data,
                                    ledger_seq=appended.seq)


def notify(*, user, case: Case, text: str, email: bool = False) -> None:
    text = mask_text(text)
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


@dataclass
class CaseSpec:
    """What a new case is about (see ``cases_open``)."""

    source: str
    priority: str = Priority.P2
    reason_codes: tuple | list = ()
    product: str = ""
    risk_score: Decimal | None = None
    summary: dict | None = None
    decision: object = None
    created_by: object = None


CASE_OPEN = action("case.open", "hitl.review")


def case_open(*, org_id, project, source: str, priority: str = Priority.P2, reason_codes=(), product: str = "",
              risk_score=None, summary: dict | None = None, decision=None, created_by=None, actor=None,
              now: dt.datetime | None = None) -> Case:
    """Open one case (see ``cases_open``) — for a person or system asking for review (``hitl.review``);
    the decide path opens its cases through ``decision_cases_open`` (the ``review_requested`` hook)
    under ``decision.make``."""
    actor = authorize(actor, CASE_OPEN)
    spec = CaseSpec(source=source, priority=priority, reason_codes=reason_codes, product=product,
                    risk_score=risk_score, summary=summary, decision=decision, created_by=created_by)
    return cases_open(org_id=org_id, project=project, specs=[spec], actor=actor, now=now)[0]


def cases_open(*, org_id, project, specs: list[CaseSpec], actor=None, now: dt.datetime | None = None) -> list[Case]:
    """Open cases — one, or a decide batch's worth in a constant number of queries: route each to a
    queue, start its SLA clock, create its review task and assign a reviewer who has capacity
    (otherwise it waits and is picked up when capacity frees). Each case's opening and assignment
    are CaseEvents on the audit chain, appended under one chain-head lock."""
    for spec in specs:
        if spec.priority not in Priority.values:
            raise ValueError(f"priority must be one of {', '.join(Priority.values)}")
    if not specs:
        return []
    now = now or clock()
    with transaction.atomic():
        if not Queue.objects.exists():
            from hitl.desk import desk_install_defaults

            desk_install_defaults(org_id=org_id, actor="system:hitl")  # an org's first case sets up its desk
        queues = list(Queue.objects.filter(active=True).select_related("sla_policy").order_by("rank", "name"))
        active, depth = {q.pk: q for q in queues}, open_depths()
        cases = []
        for spec in specs:
            case = Case(org_id=org_id, project=project, decision=spec.decision, source=spec.source,
                        priority=spec.priority, reason_codes=list(spec.reason_codes), product=(spec.product or "")[:64],
                        summary=spec.summary or {}, risk_score=spec.risk_score, created_by=spec.created_by,
                        created_by_label=actor_label(actor or spec.created_by), created_at=now, updated_at=now)
            case.queue = overflow_of(choose_among(queues, case_attributes(case, project.slug)), active=active,
                                     depth=depth)
            depth[case.queue.pk] = depth.get(case.queue.pk, 0) + 1
            case.sla_policy = case.queue.sla_policy
            case.warn_at, case.sla_due_at = sla_window(case, case.queue.sla_policy, now)
            cases.append(case)
        by_queue: dict = {}
        for case in cases:
            by_queue.setdefault(case.queue.pk, []).append(case)
        for group in by_queue.values():
            picks = reviewers_pick_many(group[0].queue, [[c.created_by_id] for c in group])
            for case, profile in zip(group, picks, strict=True):
                case.owner = profile.user if profile else None
        for case, number in zip(cases, org_counter_take(org_id=org_id, name=CASE_NUMBERS, count=len(cases)),
                                strict=True):
            case.number = number
        bulk_insert(Case, cases)
        bulk_insert(Task, [Task(org_id=org_id, case=c, kind=TaskKind.REVIEW, queue=c.queue, assignee=c.owner,
                                due_at=c.sla_due_at, created_at=now, updated_at=now) for c in cases])
        _opening_events(cases, actor)
        bulk_insert(Notification, [
            Notification(org_id=org_id, user=c.owner, case=c, created_at=now,
                         text=f"{c} ({c.get_priority_display()}) was assigned to you.") for c in cases if c.owner_id])
    return cases


def _opening_events(cases: list[Case], actor) -> None:
    from dos.ledger import Entry, ledger_append_many

    rows = []
    for case in cases:
        label = actor_label(actor or case.created_by)
        rows.append((case, "opened", label, {
            "source": case.source, "queue": case.queue.name, "priority": case.priority,
            "reason_codes": list(case.reason_codes), "decision": str(case.decision_id) if case.decision_id else None}))
        if case.owner_id:
            rows.append((case, "assigned", "system:routing", {"owner": f"user:{case.owner_id}",
                                                               "queue": case.queue.name}))
    appended = ledger_append_many(chain="audit", org_id=cases[0].org_id, entries=[
        Entry(action=f"hitl.case.{kind}", actor=label, target=f"case:{case.id}", data=data)
        for case, kind, label, data in rows])
    bulk_insert(CaseEvent, [
        CaseEvent(org_id=case.org_id, case=case, kind=kind, actor=label, data=data, ledger_seq=entry.seq,
                  created_at=case.created_at)
        for (case, kind, label, data), entry in zip(rows, appended, strict=True)])


def case_assign(case: Case, *, now: dt.datetime | None = None, exclude_user_ids=()) -> bool:
    """Give the case to the next reviewer of its queue; False when nobody has capacity."""
    now = now or clock()
    exclude = {*exclude_user_ids, case.created_by_id}
    if case.in_appeal:  # an appeal never goes to someone who decided the case before
        from hitl.selectors import appeal_excluded_reviewers

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


def decision_cases_open(*, records, project, actor=None) -> list[Case]:
    """Cases for ``review`` decisions (pairs of record and evaluation), in one go for a batch — the
    ``decisions.hooks.review_requested`` implementation (registered in ``HitlConfig.ready``).

    The priority comes from the fired ``require_hitl`` actions (``{action: require_hitl, priority: p1}``,
    the most urgent wins; p2 when none says); product and risk score from the input when present."""
    specs = []
    for record, evaluation in records:
        priorities = [a.get("priority") for a in evaluation.actions
                      if a.get("action") == "require_hitl" and a.get("priority") in Priority.values]
        snapshot = record.snapshot or {}
        risk = snapshot.get("risk_score")
        specs.append(CaseSpec(
            source=CaseSource.DECIDE, priority=min(priorities, key=PRIORITY_ORDER.index) if priorities else Priority.P2,
            reason_codes=[r["code"] for r in record.reason_codes], product=str(snapshot.get("product", "") or ""),
            risk_score=Decimal(str(risk)) if isinstance(risk, int | float) else None, summary=snapshot,
            decision=record))
    return cases_open(org_id=records[0][0].org_id, project=project, specs=specs, actor=actor) if specs else []


def appeal_assigned(case: Case) -> None:
    """Keep the open appeal's reviewer in step when a waiting appeal case is picked up later."""
    Appeal.objects.filter(case=case, status__in=OPEN_APPEAL_STATUSES).update(assignee_id=case.owner_id,
                                                                             status=AppealStatus.IN_REVIEW)
