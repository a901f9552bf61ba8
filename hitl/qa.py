"""QA of sampled cases (SPEC §10: at least 5 % of closed cases get a QA task, see
``hitl.actions._qa_sample``). A QA reviewer records pass or fail with a note; nobody checks a
case they decided themselves. A failed check tells the person who decided it."""

from __future__ import annotations

from django.db import transaction

from dos.authz import action
from dos.pii import mask_text
from hitl.actions import ActionInvalid, ActionRefused, reviewer_of
from hitl.choices import TaskKind, TaskStatus
from hitl.models import Task
from hitl.services import case_event, clock, notify

QA_PERMISSION = "hitl.qa"
VERDICTS = ("pass", "fail")


QA_RECORD = action("qa.record", QA_PERMISSION)


def qa_record(*, task: Task, verdict: str, note: str, actor, now=None) -> Task:
    user, permissions = reviewer_of(actor, doing="QA checks", permission=QA_PERMISSION)
    if QA_PERMISSION not in permissions:
        raise ActionRefused(f"QA checks need the '{QA_PERMISSION}' permission.", code="permission_denied",
                            permission=QA_PERMISSION)
    if verdict not in VERDICTS:
        raise ActionInvalid("verdict", "pass or fail")
    note = (note or "").strip()
    if verdict == "fail" and not note:
        raise ActionInvalid("note", "Say what was wrong; the decider is told.")
    now = now or clock()
    with transaction.atomic():
        task = Task.objects.select_for_update(of=("self",)).select_related("case__decided_by").get(pk=task.pk)
        if task.kind != TaskKind.QA or task.status == TaskStatus.DONE:
            raise ActionInvalid("task", "This is not an open QA task.")
        case = task.case
        if case.decided_by_id == user.pk:
            raise ActionRefused("You decided this case; someone else must check it (QA independence).",
                                code="conflict_of_interest", permission=QA_PERMISSION)
        task.status, task.assignee = TaskStatus.DONE, user
        task.payload = {**task.payload, "verdict": verdict, "note": mask_text(note)[:2000]}
        task.updated_at = now
        task.save(update_fields=["status", "assignee", "payload", "updated_at"])
        case_event(case, f"qa_{verdict}", user, {"task_id": str(task.pk), "comment": note[:2000]})
        if verdict == "fail" and case.decided_by_id:
            notify(user=case.decided_by, case=case, text=f"QA found a problem with {case}: {note[:200]}", email=True)
    return task
