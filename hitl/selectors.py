"""Reads for human review that the admin, the API and the services share."""

from __future__ import annotations

import datetime as dt
import uuid

from hitl.choices import CaseStatus
from hitl.models import Appeal, Case


def sla_state(case: Case, now: dt.datetime) -> str:
    if case.status == CaseStatus.CLOSED or case.sla_due_at is None:
        return "done"
    if case.sla_due_at <= now:
        return "breached"
    return "at_risk" if case.warn_at and case.warn_at <= now else "on_track"


def appeal_excluded_reviewers(case: Case) -> set:
    """Everyone who decided this case before: the original decider and earlier appeals' reviewers."""
    rows = Appeal.objects.filter(case=case).values_list("original_decider_id", "assignee_id")
    return {uid for pair in rows for uid in pair if uid} | ({case.decided_by_id} if case.decided_by_id else set())


def case_by_id_or_number(value: str) -> Case | None:
    """A case by its number as the inbox shows it (``42`` or ``#42``) or its id (current org scope)."""
    text = str(value).strip().removeprefix("#")
    if text.isdigit():
        return Case.objects.filter(number=int(text)).first()
    try:
        return Case.objects.filter(id=uuid.UUID(text)).first()
    except ValueError:
        return None
