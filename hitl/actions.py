"""Reviewer actions on a case (SPEC §10) — the one choke point for approve, deny, request_docs,
escalate, comment, close and override, from the admin, the tenant API and dosctl alike.

Order of checks: the state machine (409 with the allowed actions), then permission and Cedar
(forbid on a case you created: conflict of interest), then four eyes (an override needs a person
other than the one who decided). Each action is one transaction: the case, its tasks, a CaseEvent
on the audit chain and, for decision-backed cases, the override record on the decisions chain and
a ``decision.finalized`` outbox row.
"""

from __future__ import annotations

import datetime as dt
import math

from django.db import transaction

from dos.authz import PermissionRefused, action, as_actor
from dos.errors import DomainError, FieldErrors
from hitl.choices import CaseAction as A
from hitl.choices import CaseStatus as S
from hitl.choices import TaskKind, TaskStatus
from hitl.models import Case, Task
from hitl.routing import senior_queue
from hitl.services import assign_waiting, case_assign, case_event, case_move, clock
from tenancy import cedar
from tenancy.approvals import FourEyesViolation
from tenancy.models import Org

_WORK = [A.APPROVE, A.DENY, A.REQUEST_DOCS, A.ESCALATE, A.COMMENT, A.CLOSE]
TRANSITIONS: dict[str, list[str]] = {
    S.OPEN: _WORK,
    S.PENDING: _WORK,
    S.AWAITING_DOCS: [A.DENY, A.ESCALATE, A.COMMENT, A.CLOSE],
    S.ESCALATED: [A.APPROVE, A.DENY, A.REQUEST_DOCS, A.COMMENT, A.CLOSE],
    S.CLOSED: [A.OVERRIDE, A.COMMENT],
}
QA_SAMPLE_RATE = 0.05


class IllegalTransition(DomainError):
    status, code = 409, "illegal_transition"

    def __init__(self, case: Case, action: str):
        self.allowed = allowed_actions(case)
        super().__init__(f"A {case.get_status_display().lower()} case cannot be '{action}'d; "
                         f"allowed: {', '.join(self.allowed) or 'none'}.", allowed=self.allowed)


class ActionRefused(PermissionRefused):
    """Missing permission, or a Cedar forbid such as acting on a case you opened yourself."""

    def __init__(self, message: str, code: str, permission: str = ""):
        super().__init__(message, permission=permission, code=code)


CASE_WORK = action("case.work", "hitl.review")  # approve, deny, request docs, escalate, comment, close
CASE_SENIOR = action("case.senior_work", "hitl.approve")  # the same on escalated cases, and overrides


def reviewer_of(actor, *, doing: str, permission: str):
    """(person, permissions) behind an acting principal. Review work needs a person: a session, or a
    key created by one; jobs and ownerless keys are refused (``person_required``)."""
    actor = as_actor(actor)
    user = getattr(actor, "user", None)
    if user is None or not callable(getattr(actor, "has_perm", None)):
        raise ActionRefused(f"{doing} needs a person: act as a member, or use a key created by one.",
                            code="person_required", permission=permission)
    return user, frozenset(getattr(actor, "permissions", ()) or ())


class ActionInvalid(FieldErrors):
    def __init__(self, field: str, message: str):
        super().__init__({field: [message]}, message)


def allowed_actions(case: Case) -> list[str]:
    if case.in_appeal:  # the appeal decides (hitl.appeals); meanwhile reviewers can only comment
        return [A.COMMENT]
    return list(TRANSITIONS.get(case.status, []))


def required_permission(case: Case, action: str) -> str:
    # Escalated cases and overrides are for senior reviewers; everything else for reviewers.
    if action == A.OVERRIDE or (case.status == S.ESCALATED and action != A.COMMENT):
        return "hitl.approve"
    return "hitl.review"


def case_authorize(case: Case, user, permissions, *, action: str, permission: str, doing: str) -> None:
    """May ``user`` (holding ``permissions``) do ``action`` on ``case``? The primitive first, on its
    own — a Cedar permit never stands in for the role table — then Cedar's forbids: acting on a case
    you opened yourself (conflict of interest) and the org's own policies. Case actions and appeal
    decisions both come through here."""
    if permission not in permissions:
        raise ActionRefused(f"{doing} needs the '{permission}' permission.", code="permission_denied",
                            permission=permission)
    decision = cedar.authorize(
        org=Org.objects.get(id=case.org_id), user_id=str(user.pk), permissions=permissions, action=action,
        permission=permission, resource_type="Case", resource_id=str(case.id),
        resource_attrs={"created_by": ("User", case.created_by_id)} if case.created_by_id else {})
    if decision.allowed:
        return
    if case.created_by_id and case.created_by_id == user.pk:
        raise ActionRefused("You opened this case yourself; another reviewer must act on it (conflict of interest).",
                            code="conflict_of_interest", permission=permission)
    raise ActionRefused(f"An organisation policy forbids this: {doing.lower()}.", code="policy_forbids",
                        permission=permission)


def case_act(*, case: Case, action: str, actor, comment: str = "", outcome: str = "",
             now: dt.datetime | None = None) -> Case:
    """Apply ``action`` by the acting principal to ``case``; returns the updated case."""
    user, permissions = reviewer_of(actor, doing="Review actions", permission="hitl.review")
    now = now or clock()
    if action not in A.values:
        raise ActionInvalid("action", f"Unknown action; one of {', '.join(A.values)}.")
    with transaction.atomic():
        case = Case.objects.select_for_update().select_related("queue").get(pk=case.pk)
        if action not in allowed_actions(case):
            raise IllegalTransition(case, action)
        case_authorize(case, user, permissions, action=action, permission=required_permission(case, action),
                       doing=f"'{action}' on this case")
        comment = (comment or "").strip()
        if action in (A.COMMENT, A.OVERRIDE, A.REQUEST_DOCS, A.CLOSE) and not comment:
            raise ActionInvalid("comment", {A.OVERRIDE: "An override needs a reason.",
                                            A.REQUEST_DOCS: "Say which documents are needed.",
                                            A.CLOSE: "Say why the case is closed without a decision.",
                                            A.COMMENT: "A comment cannot be empty."}[action])
        if case.first_picked_at is None and action != A.COMMENT:
            case.first_picked_at = now
        freed_queue, previous_owner = (case.queue, case.owner_id) if case.owner_id else (None, None)
        handler = _HANDLERS[action]
        handler(case, user=user, comment=comment, outcome=outcome, now=now)
        case.updated_at = now
        case.save()
        case_event(case, action, user, {"comment": comment[:2000], "status": case.status,
                                        **({"outcome": case.outcome} if case.outcome else {})})
        if freed_queue is not None and (case.status == S.CLOSED or case.owner_id != previous_owner):
            assign_waiting(freed_queue, now=now)  # the previous owner has capacity again
    return case


def _decide(case: Case, *, user, comment: str, outcome: str, now, final: str) -> None:
    case.outcome = final
    case.decided_by = user
    case.status = S.CLOSED
    case.resolved_at = now
    Task.objects.filter(case=case).exclude(status=TaskStatus.DONE).exclude(kind=TaskKind.QA).update(
        status=TaskStatus.DONE, updated_at=now)
    if case.decision_id:
        _finalize_decision(case, user=user, outcome=final, comment=comment, override=False)
    _qa_sample(case, now)


def _approve(case, **kw):
    _decide(case, final="approve", **kw)


def _deny(case, **kw):
    _decide(case, final="deny", **kw)


def _request_docs(case: Case, *, user, comment: str, outcome: str, now) -> None:
    case.status = S.AWAITING_DOCS
    Task.objects.create(org_id=case.org_id, case=case, kind=TaskKind.REQUEST_DOCS, status=TaskStatus.BLOCKED,
                        assignee=case.owner, queue=case.queue, payload={"requested": comment}, created_at=now,
                        updated_at=now)


def _escalate(case: Case, *, user, comment: str, outcome: str, now) -> None:
    case_escalate(case, actor=user, reason=comment or "escalated by the reviewer", now=now, exclude=[user.pk])


def case_escalate(case: Case, *, actor, reason: str, now, exclude=(), bump: bool = False) -> None:
    """Move to the senior queue (status escalated), optionally one priority step up, and assign."""
    from hitl.services import priority_bumped, sla_window

    case.status = S.ESCALATED
    if bump:
        case.priority = priority_bumped(case.priority)
    target = senior_queue()
    if target is not None and target.pk != case.queue_id:
        case_move(case, target, actor=actor, reason=reason, now=now)
    elif case.owner_id in exclude:
        case.owner = None
    if bump:
        case.warn_at, case.sla_due_at = sla_window(case, case.sla_policy, now)
    case.save()
    case_assign(case, now=now, exclude_user_ids=exclude)


def _comment(case, **kw):
    pass


def _close(case: Case, *, user, comment: str, outcome: str, now) -> None:
    case.status = S.CLOSED
    case.resolved_at = now
    Task.objects.filter(case=case).exclude(status=TaskStatus.DONE).update(status=TaskStatus.DONE, updated_at=now)
    _qa_sample(case, now)


def _override(case: Case, *, user, comment: str, outcome: str, now) -> None:
    if outcome not in ("approve", "deny"):
        raise ActionInvalid("outcome", "An override sets the outcome: approve or deny.")
    if outcome == case.outcome:
        raise ActionInvalid("outcome", f"The case is already {case.outcome}d.")
    if case.decided_by_id and case.decided_by_id == user.pk:
        raise FourEyesViolation("You decided this case; a second senior reviewer must override it (four eyes).")
    case.outcome = outcome
    case.decided_by = user
    case.resolved_at = now
    if case.decision_id:
        _finalize_decision(case, user=user, outcome=outcome, comment=comment, override=True)


_HANDLERS = {A.APPROVE: _approve, A.DENY: _deny, A.REQUEST_DOCS: _request_docs, A.ESCALATE: _escalate,
             A.COMMENT: _comment, A.CLOSE: _close, A.OVERRIDE: _override}


_FINAL_CODES = {"approve": ("HITL_APPROVED", "A reviewer approved the application."),
                "deny": ("HITL_DENIED", "A reviewer declined the application."),
                "override": ("HITL_OVERRIDE", "A senior reviewer changed the outcome.")}


def _finalize_decision(case: Case, *, user, outcome: str, comment: str, override: bool) -> None:
    from decisions.services import decision_finalize

    code, message = _FINAL_CODES["override" if override else outcome]
    decision_finalize(original_id=case.decision_id, outcome=outcome, actor=user, reason_code=code, message=message,
                      refs={"case_id": str(case.id), "case_number": case.number}, override=override)


def _qa_sample(case: Case, now) -> None:
    """Keep QA tasks at no less than 5 % of closed cases (checked at each closure, so it holds
    at every moment, not only on average)."""
    closed = Case.objects.filter(status=S.CLOSED).exclude(pk=case.pk).count() + 1
    sampled = Task.objects.filter(kind=TaskKind.QA).count()
    if sampled < math.ceil(closed * QA_SAMPLE_RATE):
        Task.objects.create(org_id=case.org_id, case=case, kind=TaskKind.QA, payload={"sampled": "rate"},
                            created_at=now, updated_at=now)
