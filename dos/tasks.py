"""Core Celery tasks and the base class for tenant tasks.

Tenant tasks take ``org_id`` explicitly — set by the server when it enqueues, never by a client —
and run inside that org's scope (``OrgTask``). Cross-org jobs run in a named platform scope, which
is written to the audit chain.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from celery import Task, shared_task
from django.utils import timezone

from dos import scope
from dos.idempotency import idempotency_purge
from dos.models import ChainAnchor, ChainHead
from dos.outbox import DrainResult, outbox_drain, registered_topics

log = structlog.get_logger(__name__)


class OrgTask(Task):
    """Runs the task body inside ``scope.org_scope(org_id)``; refuses to run without an org_id."""

    abstract = True

    def __call__(self, *args, **kwargs):
        org_id = kwargs.get("org_id")
        if not org_id:
            raise ValueError(f"{self.name} is a tenant task: call it with org_id=…")
        with scope.org_scope(org_id):
            return super().__call__(*args, **kwargs)


# Narrow the orgs a job visits (``filter(job, org_ids) -> org_ids``), run in the job's platform
# scope. Tenancy registers the org-status rule here (tenancy.status.orgs_a_job_may_visit): frozen
# and suspended orgs are skipped by jobs that write.
_org_filters: list[Callable[[str, list], list]] = []


def register_org_filter(org_filter: Callable[[str, list], list]) -> None:
    if org_filter not in _org_filters:
        _org_filters.append(org_filter)


def orgs_where(*, job: str, sql: str, params=(), every_status: bool = False) -> list:
    """Org ids a job must visit (``sql`` selects them) and may visit (the registered filters, e.g.
    the org's status, unless ``every_status``), found in one audited platform scope; the job then
    works on each org inside ``scope.org_scope``. ``job`` starts with the job's name, which the
    filters look up."""
    from django.db import connection

    with scope.platform_scope(reason=f"job: {job}"):
        with connection.cursor() as cur:
            cur.execute(sql, list(params))
            org_ids = [row[0] for row in cur.fetchall()]
        for org_filter in () if every_status else _org_filters:
            org_ids = org_filter(job, org_ids)
        return org_ids


def for_each_org(*, job: str, sql: str, params=(), work: Callable, scoped: bool = True,
                 every_status: bool = False) -> list:
    """The per-org loop of a beat job: find the orgs (``orgs_where``), then ``work(org_id)`` for
    each — inside that org's scope unless the work opens its own — one org's failure logged and the
    others still done. Returns the results of the orgs that succeeded. Each org's statements name
    that org, so on a sharded database they run on its node alone (docs/scale.md)."""
    results = []
    for org_id in orgs_where(job=job, sql=sql, params=params, every_status=every_status):
        try:
            if scoped:
                with scope.org_scope(org_id):
                    results.append(work(org_id))
            else:
                results.append(work(org_id))
        except Exception:
            log.exception("job.org_failed", job=job.split(" ", 1)[0], org_id=str(org_id))
    return results


@shared_task(name="dos.tasks.ledger_anchor_daily", ignore_result=True)
def ledger_anchor_daily() -> int:
    """Record every chain head; a later verify can prove nothing before the anchor was rewritten.
    One org at a time (its heads read and its anchors written in its own scope), and every org
    whatever its status: a frozen or suspended org's chain is evidence too."""
    now = timezone.now()

    def anchor(org_id) -> int:
        heads = list(ChainHead.objects.all())
        ChainAnchor.objects.bulk_create([ChainAnchor(org_id=h.org_id, chain=h.chain, seq=h.seq, hash=h.hash,
                                                     anchored_at=now) for h in heads])
        return len(heads)

    return sum(for_each_org(job="ledger_anchor_daily (orgs with chains)", every_status=True, work=anchor,
                            sql="SELECT DISTINCT org_id FROM dos_chainhead"))


@shared_task(name="dos.tasks.idempotency_purge_expired", ignore_result=True)
def idempotency_purge_expired() -> int:
    with scope.platform_scope(reason="job: idempotency_purge_expired"):
        return idempotency_purge()


@shared_task(name="dos.tasks.outbox_drain_org", ignore_result=True)
def outbox_drain_org(*, org_id: str) -> int:
    """Deliver one org's due outbox events (kicked after COMMIT by ``outbox_emit``). Not an
    ``OrgTask``: the drain opens the org's scope per batch, so each batch commits on its own."""
    return outbox_drain(org_id=org_id).delivered


@shared_task(name="dos.tasks.outbox_drain_all", ignore_result=True)
def outbox_drain_all(*, now=None) -> dict[str, int]:
    """The beat sweep: every org with a due event of a handled topic (retries, missed kicks)."""
    now = now or timezone.now()
    topics = registered_topics()
    total = DrainResult()
    if not topics:
        return vars(total)
    for drained in for_each_org(job="outbox_drain (orgs with due events)", params=[now, topics], scoped=False,
                                sql="SELECT DISTINCT org_id FROM dos_outboxevent "
                                    "WHERE status = 'pending' AND next_attempt_at <= %s AND topic = ANY(%s)",
                                work=lambda org_id: outbox_drain(org_id=org_id, now=now)):
        total += drained
    return vars(total)


@shared_task(name="dos.tasks.backup_nightly", ignore_result=True)
def backup_nightly(*, now=None) -> dict:
    """Tonight's backup, its restore rehearsal and the retention prune (dos.backup.backup_nightly).
    Idempotent per night: a redelivered run (acks_late) reuses the complete backup and finishes
    whatever step had not run."""
    from dos.backup import backup_nightly as run

    return run(now=now)
