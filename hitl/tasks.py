"""HITL jobs: the SLA sweep every minute, per org."""

from __future__ import annotations

import structlog
from celery import shared_task
from django.utils import timezone

from dos import scope
from dos.tasks import orgs_where
from hitl.sla import sla_sweep

log = structlog.get_logger(__name__)


def _orgs_with_due_cases(now) -> list:
    return orgs_where(job="hitl_sla_sweep (find orgs with due cases)", params=[now],
                      sql="SELECT DISTINCT org_id FROM hitl_case WHERE status <> 'closed' AND warn_at <= %s")


@shared_task(name="hitl.tasks.sla_sweep_all", ignore_result=True)
def sla_sweep_all() -> dict[str, int]:
    now = timezone.now()
    totals = {"warned": 0, "breached": 0}
    for org_id in _orgs_with_due_cases(now):
        try:
            with scope.org_scope(org_id):
                for key, value in sla_sweep(now=now).items():
                    totals[key] += value
        except Exception:
            log.exception("hitl.sla_sweep_failed", org_id=str(org_id))
    return totals
