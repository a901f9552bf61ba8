"""HITL jobs: the SLA sweep every minute, per org; virus scans of uploaded attachments.

All of them may run again after their worker was killed (acks_late): a sweep records each rung in
SlaMark before acting, so a rung is warned or breached once however often the sweep runs (its
e-mails leave after COMMIT, so a kill between COMMIT and sending loses that e-mail rather than
doubling it); the gauges are overwritten; a scan records its verdict once (under the row lock a
second delivery finds it recorded)."""

from __future__ import annotations

import structlog
from celery import shared_task
from django.utils import timezone

from dos.tasks import OrgTask, for_each_org
from hitl.sla import sla_sweep

log = structlog.get_logger(__name__)


@shared_task(name="hitl.tasks.sla_sweep_all", ignore_result=True)
def sla_sweep_all() -> dict[str, int]:
    now = timezone.now()
    totals = {"warned": 0, "breached": 0}
    for swept in for_each_org(job="hitl_sla_sweep (find orgs with due cases)", params=[now],
                              sql="SELECT DISTINCT org_id FROM hitl_case WHERE status <> 'closed' AND warn_at <= %s",
                              work=lambda org_id: sla_sweep(now=now)):
        for key, value in swept.items():
            totals[key] += value
    return totals


@shared_task(name="hitl.tasks.metrics_refresh_all", ignore_result=True)
def metrics_refresh_all() -> int:
    """Refresh the review-desk gauges on /metrics for every org that has cases."""
    from hitl.metrics import metrics_publish

    return len(for_each_org(job="hitl_metrics_refresh (orgs with cases)", sql="SELECT DISTINCT org_id FROM hitl_case",
                            work=lambda org_id: metrics_publish(org_label=str(org_id))))  # the id: slugs name customers


@shared_task(name="hitl.tasks.attachment_scan", base=OrgTask, autoretry_for=(OSError,),
             retry_backoff=10, retry_backoff_max=600, max_retries=20)
def attachment_scan(*, org_id: str, attachment_id: str) -> str:
    """ClamAV's verdict on a pending attachment; retried while clamd is unreachable (the file stays
    pending and is not served meanwhile)."""
    from hitl import attachments
    from hitl.models import Attachment

    return attachments.attachment_scan(Attachment.objects.get(pk=attachment_id))
