"""Metering jobs delivered again after their worker died (acks_late): the totals are the clean ones."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import rollups, tasks
from billing.models import MeterEvent, RollupCursor, UsageDaily, UsageHourly, UsageMonthly
from billing.periods import seoul_day
from billing.quotas import usage_observe
from billing.reconcile import usage_reconcile
from billing.services import MeterInput, meter_record_many
from dos import scope
from dos.models import LedgerEntry

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Stands for SIGKILL: no per-org error handling catches it."""


def totals(org) -> dict:
    with scope.org_scope(org.id):
        raw = MeterEvent.objects.filter(org=org)
        return {"events": raw.count(), "value": sum((e.value for e in raw), Decimal(0)),
                "hourly": sum(r.value for r in UsageHourly.objects.filter(org=org)),
                "hourly_events": sum(r.events for r in UsageHourly.objects.filter(org=org)),
                "daily": sum(r.value for r in UsageDaily.objects.filter(org=org)),
                "monthly": sum(r.value for r in UsageMonthly.objects.filter(org=org)),
                "cursor": RollupCursor.objects.filter(org=org).values_list("last_event_id", flat=True).first()}


def meter(org, prefix: str, n: int, now):
    with scope.org_scope(org.id):
        meter_record_many(org=org, now=now, items=[
            MeterInput(metric="decision_calls", value=i % 5 + 1, corr_id=f"{prefix}{i}", ts=now - dt.timedelta(minutes=7 * i))
            for i in range(n)])


def test_a_rollup_killed_in_its_second_org_resumes_per_org_and_counts_nothing_twice(acme, outsider, settings,
                                                                                     monkeypatch):
    settings.USAGE_ROLLUP_SETTLE_SECONDS = 0
    now = timezone.now()
    for org in (acme, outsider):
        meter(org, "a", 60, now)
    visited = []

    def dies_in_the_second_org(*, org_id, **kwargs):
        visited.append(str(org_id))
        if len(visited) == 2:
            try:
                rollups.usage_rollup(org_id=org_id, _fail_after="daily", **kwargs)
            except RuntimeError:
                raise WorkerKilled from None  # half-way through the org's transaction
        return rollups.usage_rollup(org_id=org_id, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(tasks, "usage_rollup", dies_in_the_second_org)
        with pytest.raises(WorkerKilled):
            tasks.usage_rollup_all()
    orgs = {str(acme.id): acme, str(outsider.id): outsider}
    first, second = (orgs[org_id] for org_id in visited)
    done_cursor = totals(first)["cursor"]
    assert totals(first)["hourly"] == totals(first)["value"] and done_cursor
    assert totals(second)["hourly"] == 0 and not totals(second)["cursor"]  # rolled back, nothing half-written

    assert tasks.usage_rollup_all() == 2  # the redelivered task
    assert tasks.usage_rollup_all() == 2  # and once more
    for org in (acme, outsider):
        t = totals(org)
        assert t["hourly"] == t["daily"] == t["monthly"] == t["value"]
        assert t["hourly_events"] == t["events"] == 60
    assert totals(first)["cursor"] == done_cursor  # the org done before the kill had nothing left to do


def test_reconciling_a_day_again_raises_its_drift_alert_once(acme):
    now = timezone.now()
    with scope.org_scope(acme.id):
        for _ in range(100):
            usage_observe(org_id=acme.id, metric="decision_calls", now=now)
        meter_record_many(org=acme, now=now, items=[MeterInput(metric="decision_calls", value=1, corr_id=f"d-{i}",
                                                               source="decide", ts=now) for i in range(97)])
        for _ in range(3):  # the task, then its redelivery, then a manual rerun
            [report] = usage_reconcile(org_id=acme.id, day=seoul_day(now), metrics=["decision_calls"])
            assert report.alert is True
        assert LedgerEntry.objects.filter(chain="audit", action="usage.drift_alert").count() == 1
        usage_observe(org_id=acme.id, metric="decision_calls", now=now)  # the drift grows: a new alert
        usage_reconcile(org_id=acme.id, day=seoul_day(now), metrics=["decision_calls"])
        assert LedgerEntry.objects.filter(chain="audit", action="usage.drift_alert").count() == 2
