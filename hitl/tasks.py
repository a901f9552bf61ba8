"""HITL jobs: the SLA sweep every minute, per org; virus scans of uploaded attachments."""

from __future__ import annotations

import structlog
from celery import shared_task
from django.utils import timezone

from dos import scope
from dos.tasks import OrgTask, orgs_where
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


@shared_task(name="hitl.tasks.metrics_refresh_all", ignore_result=True)
def metrics_refresh_all() -> int:
    """Refresh the review-desk gauges on /metrics for every org that has cases."""
    from hitl.metrics import metrics_publish

    orgs = orgs_where(job="hitl_metrics_refresh (orgs with cases)", sql="SELECT DISTINCT org_id FROM hitl_case")
    for org_id in orgs:
        try:
            with scope.org_scope(org_id):
                metrics_publish(org_label=str(org_id))  # the id: slugs name customers
        except Exception:
            log.exception("hitl.metrics_refresh_failed", org_id=str(org_id))
    return len(orgs)


@shared_task(name="hitl.tasks.attachment_scan", base=OrgTask, autoretry_for=(OSError,),
             retry_backoff=10, retry_backoff_max=600, max_retries=20)
def attachment_scan(*, org_id: str, attachment_id: str) -> str:
    """ClamAV's verdict on a pending attachment; retried while clamd is unreachable (the file stays
    pending and is not served meanwhile)."""
    from hitl import attachments
    from hitl.models import Attachment

    return attachments.attachment_scan(Attachment.objects.get(pk=attachment_id))
