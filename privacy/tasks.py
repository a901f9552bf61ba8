"""Privacy jobs: the DSAR pipeline, the deadline sweep, the daily retention dry-run and its execution.

Every one may run again after its worker was killed (acks_late): the pipeline resumes at its step
(per-step checkpoints), the sweep warns once per request, the dry-run supersedes the previous one
still waiting, and a run's execution carries on from each rule's cursor."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from dos.tasks import for_each_org


# Not an OrgTask: each step commits in a transaction of its own (its checkpoint), which one
# task-wide transaction would hold back until the end and lose with a killed worker.
@shared_task(name="privacy.tasks.dsar_run", ignore_result=True)
def dsar_run(*, org_id: str, request_id: str) -> str:
    from privacy.dsar.pipeline import dsar_process

    return dsar_process(org_id=org_id, request_id=request_id)


def _open_requests(org_id) -> int:
    from dos import scope
    from privacy.dsar.pipeline import dsar_process
    from privacy.models import DsarRequest
    from privacy.models.dsar import OPEN_STATES

    with scope.org_scope(org_id):  # the ids only: each step opens its own transaction
        ids = list(DsarRequest.objects.filter(state__in=OPEN_STATES, verified_at__isnull=False)
                   .order_by("due_at").values_list("id", flat=True)[:200])
    for request_id in ids:
        dsar_process(org_id=org_id, request_id=request_id)
    return len(ids)


@shared_task(name="privacy.tasks.dsar_sweep_all", ignore_result=True)
def dsar_sweep_all() -> dict[str, int]:
    """Deadline warnings, then carry on verified requests that wait (an approval came, a worker died)."""
    from privacy.dsar.deadlines import dsar_deadline_sweep

    now = timezone.now()
    warned = sum(for_each_org(job="privacy_dsar_sweep (orgs with open requests)", params=[list(
        ("intake", "verify", "scope", "collect", "redact", "export", "fulfil"))],
        sql="SELECT DISTINCT org_id FROM privacy_dsarrequest WHERE state = ANY(%s)",
        work=lambda org_id: dsar_deadline_sweep(now=now)))
    carried = sum(for_each_org(job="privacy_dsar_sweep (orgs with open requests)", params=[list(
        ("verify", "scope", "collect", "redact", "export", "fulfil"))],
        sql="SELECT DISTINCT org_id FROM privacy_dsarrequest WHERE state = ANY(%s)",
        work=_open_requests, scoped=False))
    return {"warned": warned, "carried_on": carried}


@shared_task(name="privacy.tasks.retention_plan_daily", ignore_result=True)
def retention_plan_daily() -> int:
    """The daily dry-run of every org with rules (seeded on first use): waits for approval. First, runs
    decided on the general Approvals page follow their decision and approved runs whose execution was
    lost are sent again (``retention_follow_up``)."""
    from privacy.retention.services import SYSTEM, retention_follow_up, retention_plan

    def work(org_id):
        retention_follow_up(org_id=org_id, actor=SYSTEM)
        return retention_plan(org_id=org_id, actor=SYSTEM)

    return len(for_each_org(job="privacy_retention_plan (every org)", sql="SELECT id FROM tenancy_org", work=work))


@shared_task(name="privacy.tasks.retention_run_execute", ignore_result=True)  # batches commit one by one
def retention_run_execute(*, org_id: str, run_id: str) -> str:
    from privacy.retention.services import retention_execute

    return retention_execute(org_id=org_id, run_id=run_id).status
