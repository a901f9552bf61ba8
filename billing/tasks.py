"""Thin beat jobs for metering: each finds the orgs in a named platform scope (audited), then works
in each org's own scope and transaction."""

from __future__ import annotations

import datetime as dt

import structlog
from celery import shared_task
from django.utils import timezone

from billing.periods import seoul_day
from billing.reconcile import usage_reconcile
from billing.rollups import usage_rollup
from dos import scope
from dos.tasks import orgs_where

log = structlog.get_logger(__name__)


def _orgs_with_events() -> list:
    return orgs_where(job="usage (find orgs with meter events)", sql="SELECT DISTINCT org_id FROM billing_meterevent")


@shared_task(name="billing.tasks.usage_rollup_all", ignore_result=True)
def usage_rollup_all() -> int:
    done = 0
    for org_id in _orgs_with_events():
        try:
            with scope.org_scope(org_id):
                usage_rollup(org_id=org_id)
            done += 1
        except Exception:
            log.exception("usage.rollup_failed", org_id=str(org_id))
    return done


@shared_task(name="billing.tasks.usage_reconcile_daily", ignore_result=True)
def usage_reconcile_daily(day: str | None = None) -> int:
    target = dt.date.fromisoformat(day) if day else seoul_day(timezone.now()) - dt.timedelta(days=1)
    alerts = 0
    for org_id in _orgs_with_events():
        with scope.org_scope(org_id):
            alerts += sum(1 for r in usage_reconcile(org_id=org_id, day=target) if r.alert)
    return alerts
