"""Appeals against a decided case (SPEC §10): at most two levels, each reviewed in the senior queue
by a senior reviewer who neither decided the case before nor reviewed an earlier appeal of it.

The outcome — uphold, overturn or partial — re-issues the decision: a new record on the decisions
chain whose explanation (``decisions.selectors.decision_explain``) the applicant can be given, and a
``decision.finalized`` outbox row. A rejected appeal (not admissible) leaves the decision as it was.
"""

from __future__ import annotations

from django.db import transaction

from dos.audit import actor_label
from dos.authz import action, authorize
from dos.errors import DomainError
from hitl.actions import case_authorize, reviewer_of
from hitl.choices import OPEN_APPEAL_STATUSES, AppealResolution, AppealStatus, CaseStatus, TaskKind, TaskStatus
from hitl.models import Appeal, Case, SlaMark, Task
from hitl.routing import senior_queue
from hitl.services import assign_waiting, case_assign, case_event, case_move, clock, sla_window
from tenancy.approvals import FourEyesViolation

MAX_LEVEL = 2
RESOLVE_PERMISSION = "hitl.appeal"
# Appeals come from applicants through the tenant's front office (its systems or agents).
APPEAL_SUBMIT_PERMISSION = "decisions.run"
APPEAL_SUBMIT = action("appeal.submit", APPEAL_SUBMIT_PERMISSION)
APPEAL_DECIDE = action("appeal.decide", RESOLVE_PERMISSION)
_CODES = {AppealResolution.UPHOLD: ("APPEAL_UPHELD", "On appeal, the decision was upheld."),
          AppealResolution.OVERTURN: ("APPEAL_OVERTURNED", "On appeal, the decision was overturned."),
          AppealResolution.PARTIAL: ("APPEAL_PARTIAL", "On appeal, the decision was changed in part.")}


class AppealInvalid(DomainError):
    """The appeal cannot be made or decided now (409 ``appeal_not_allowed``), or a field is wrong
    (400 ``validation_error`` when ``field``)."""

    def __init__(self, message: str, field: str = ""):
        if field:
            super().__init__(message, status=400, code="validation_error", errors={field: [message]})
        else:
            super().__init__(message, status=409, code="appeal_not_allowed")
        self.field = field


def appeal_submit(*, case: Case, reason: str, actor, now=None) -> Appeal:
    submitted_by = authorize(actor, APPEAL_SUBMIT)
    reason = (reason or "").strip()
    if not reason:
        raise AppealInvalid("Say why the decision is appealed.", field="reason")
    now = now or clock()
    with transaction.atomic():
        case = Case.objects.select_for_update().select_related("queue").get(pk=case.pk)
        if case.status != CaseStatus.CLOSED or not case.outcome:
            raise AppealInvalid("Only a decided case can be appealed.")
        if case.in_appeal:
            raise AppealInvalid("An appeal of this case is already under way.")
        level = Appeal.objects.filter(case=case).count() + 1
        if level > MAX_LEVEL:
            raise AppealInvalid(f"A case can be appealed at most {MAX_LEVEL} times; this one has been.")
        appeal = Appeal.objects.create(org_id=case.org_id, case=case, level=level, reason=reason[:4000],
                                       submitted_by=actor_label(submitted_by), original_decider=case.decided_by,
                                       created_at=now)
        case.in_appeal, case.status, case.resolved_at = True, CaseStatus.ESCALATED, None
        case.reopen_count += 1
        # The appeal has its own SLA window; its warning and breach are recorded afresh.
        case.warn_at, case.sla_due_at = sla_window(case, case.sla_policy, now)
        case.sla_breached = False
        SlaMark.objects.filter(case=case).delete()
        case.updated_at = now
        case.save()
        Task.objects.create(org_id=case.org_id, case=case, kind=TaskKind.REVIEW, queue=case.queue,
                            payload={"appeal_id": str(appeal.id), "level": level}, created_at=now, updated_at=now)
        case_event(case, "appeal_submitted", submitted_by, {"appeal_id": str(appeal.id), "level": level})
        target = senior_queue()
        if target is not None and target.pk != case.queue_id:
            case_move(case, target, actor=submitted_by, reason=f"appeal level {level}", now=now)
        else:
            case.owner = None
            case.save(update_fields=["owner"])
        case_assign(case, now=now)  # excludes everyone who decided the case before
        appeal.refresh_from_db()
    return appeal


def _authorize(appeal: Appeal, case: Case, user, permissions) -> None:
    case_authorize(case, user, permissions, action="appeal_resolve", permission=RESOLVE_PERMISSION,
                   doing="Deciding appeals")
    earlier = Appeal.objects.filter(case=case).exclude(pk=appeal.pk).values_list("original_decider_id", "assignee_id")
    if user.pk in {appeal.original_decider_id, *(uid for pair in earlier for uid in pair)}:
        raise FourEyesViolation("You decided this case before; a different senior reviewer must decide the "
                                "appeal (four eyes).")


def _open_for_decision(appeal: Appeal, user, permissions) -> tuple[Appeal, Case]:
    """Lock the appeal and its case, check it is still open and that ``user`` may decide it."""
    appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
    case = Case.objects.select_for_update().select_related("queue").get(pk=appeal.case_id)
    if appeal.status not in OPEN_APPEAL_STATUSES:
        raise AppealInvalid(f"This appeal is already {appeal.get_status_display().lower()}.")
    _authorize(appeal, case, user, permissions)
    return appeal, case


def appeal_resolve(*, appeal: Appeal, resolution: str, note: str, actor, outcome: str = "",
                   now=None) -> Appeal:
    """Decide an appeal; the decision is re-issued on the decisions chain."""
    user, permissions = reviewer_of(actor, doing="Deciding appeals", permission=RESOLVE_PERMISSION)
    if resolution not in AppealResolution.values:
        raise AppealInvalid(f"One of {', '.join(AppealResolution.values)}.", field="resolution")
    note = (note or "").strip()
    if not note:
        raise AppealInvalid("Explain the appeal's outcome; the applicant is told.", field="note")
    now = now or clock()
    with transaction.atomic():
        appeal, case = _open_for_decision(appeal, user, permissions)
        final = _final_outcome(case.outcome, resolution, outcome)
        code, message = _CODES[resolution]
        if case.decision_id:
            appeal.final_decision = _reissue(case, appeal, final, code, message, user)
        appeal.status, appeal.resolution, appeal.resolution_note = AppealStatus.RESOLVED, resolution, note[:4000]
        appeal.assignee_id = appeal.assignee_id or user.pk
        appeal.resolved_at = now
        appeal.save()
        _close(case, user=user, outcome=final, now=now)
        case_event(case, "appeal_resolved", user, {"appeal_id": str(appeal.id), "level": appeal.level,
                                                   "resolution": resolution, "outcome": final})
    return appeal


def appeal_reject(*, appeal: Appeal, note: str, actor, now=None) -> Appeal:
    user, permissions = reviewer_of(actor, doing="Deciding appeals", permission=RESOLVE_PERMISSION)
    """Refuse an appeal as not admissible; the decision stands and no record is re-issued."""
    note = (note or "").strip()
    if not note:
        raise AppealInvalid("Say why the appeal is not admissible.", field="note")
    now = now or clock()
    with transaction.atomic():
        appeal, case = _open_for_decision(appeal, user, permissions)
        appeal.status, appeal.resolution_note, appeal.resolved_at = AppealStatus.REJECTED, note[:4000], now
        appeal.assignee_id = appeal.assignee_id or user.pk
        appeal.save()
        _close(case, user=None, outcome=case.outcome, now=now)
        case_event(case, "appeal_rejected", user, {"appeal_id": str(appeal.id), "level": appeal.level})
    return appeal


def _final_outcome(current: str, resolution: str, outcome: str) -> str:
    if resolution == AppealResolution.UPHOLD:
        return current
    if resolution == AppealResolution.OVERTURN:
        return "deny" if current == "approve" else "approve"
    if outcome not in ("approve", "deny"):
        raise AppealInvalid("A partial outcome says what the decision now is: approve or deny.", field="outcome")
    return outcome


def _reissue(case: Case, appeal: Appeal, final: str, code: str, message: str, user):
    from decisions.services import decision_finalize

    return decision_finalize(original_id=case.decision_id, outcome=final, actor=user, reason_code=code,
                             message=message, override=final != case.outcome,
                             refs={"case_id": str(case.id), "case_number": case.number,
                                   "appeal_id": str(appeal.id), "appeal_level": appeal.level},
                             event={"appeal": {"id": str(appeal.id), "level": appeal.level}})


def _close(case: Case, *, user, outcome: str, now) -> None:
    freed = case.queue
    case.in_appeal, case.status, case.outcome, case.resolved_at, case.updated_at = (
        False, CaseStatus.CLOSED, outcome, now, now)
    if user is not None:
        case.decided_by = user
    case.save()
    Task.objects.filter(case=case, kind=TaskKind.REVIEW).exclude(status=TaskStatus.DONE).update(
        status=TaskStatus.DONE, updated_at=now)
    assign_waiting(freed, now=now)
