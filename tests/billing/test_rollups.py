"""Rollups equal a straightforward recomputation from the raw events, whatever happened before."""

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.meters import PURGE_FLOOR_DAYS
from billing.models import MeterEvent, RollupCursor, UsageDaily, UsageHourly, UsageMonthly
from billing.periods import SEOUL
from billing.rollups import usage_rollup, usage_rollup_backfill
from billing.selectors import usage_series
from billing.services import MeterInput, meter_record_many
from dos import scope
from tests.factories import make_org

pytestmark = pytest.mark.django_db
METRICS = ["decision_calls", "compute_seconds"]


def expected_from_raw(org) -> dict:
    """Straightforward recomputation: every stored, non-adjusted event summed into its buckets."""
    out = {"hour": defaultdict(Decimal), "day": defaultdict(Decimal), "month": defaultdict(Decimal)}
    for e in MeterEvent.objects.filter(org=org).exclude(late_status="late_adjusted"):
        hour = e.ts.replace(minute=0, second=0, microsecond=0)
        local = hour.astimezone(SEOUL)
        out["hour"][(e.metric, hour)] += e.value
        out["day"][(e.metric, local.date())] += e.value
        out["month"][(e.metric, local.date().replace(day=1))] += e.value
    return out


def rollup_tables(org) -> dict:
    return {
        "hour": {(r.metric, r.hour): r.value for r in UsageHourly.objects.filter(org=org)},
        "day": {(r.metric, r.day): r.value for r in UsageDaily.objects.filter(org=org)},
        "month": {(r.metric, r.month): r.value for r in UsageMonthly.objects.filter(org=org)},
    }


def series_total(org, metric, now):
    series = usage_series(org_id=org.id, metric=metric, start=now - dt.timedelta(days=5),
                          end=now + dt.timedelta(hours=1), granularity="hour")
    return {row["bucket"]: Decimal(row["value"]) for row in series}


OPS = st.lists(st.one_of(
    st.tuples(st.just("event"), st.sampled_from(METRICS), st.integers(0, 500), st.integers(0, 12),
              st.integers(0, 47 * 60)),
    st.just(("rollup",)),
), min_size=1, max_size=40)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_any_interleaving_of_duplicates_late_and_out_of_order_events_rolls_up_exactly(db, ops):
    org = make_org(f"Prop {uuid.uuid4().hex[:6]}", plan="enterprise")
    now = timezone.now().replace(microsecond=0)
    with scope.org_scope(org.id):
        for op in ops:
            if op[0] == "rollup":
                usage_rollup(org_id=org.id, now=now, settle_seconds=0)
            else:
                _, metric, value, corr, minutes_ago = op
                meter_record_many(org=org, now=now, items=[MeterInput(
                    metric=metric, value=value, corr_id=f"c{corr}", ts=now - dt.timedelta(minutes=minutes_ago))])
            # The usage API is exact at every moment: rollups plus the not-yet-rolled tail.
            want = expected_from_raw(org)
            for metric in METRICS:
                got = series_total(org, metric, now)
                assert got == {h.astimezone(dt.UTC).isoformat(): v for (m, h), v in want["hour"].items()
                               if m == metric}
        usage_rollup(org_id=org.id, now=now, settle_seconds=0)
        want = expected_from_raw(org)
        assert rollup_tables(org) == {k: dict(d) for k, d in want.items()}


@pytest.mark.parametrize("step", ["hourly", "daily"])
def test_a_run_that_fails_half_way_and_runs_again_gives_the_clean_totals(step):
    now = timezone.now().replace(microsecond=0)
    items = [MeterInput(metric="decision_calls", value=i % 7 + 1, corr_id=f"e{i}", ts=now - dt.timedelta(minutes=13 * i))
             for i in range(120)]
    clean, broken = make_org("Clean run", plan="enterprise"), make_org("Broken run", plan="enterprise")
    with scope.org_scope(clean.id):
        meter_record_many(org=clean, items=items, now=now)
        usage_rollup(org_id=clean.id, now=now, settle_seconds=0)
        clean_tables = rollup_tables(clean)
    with scope.org_scope(broken.id):
        meter_record_many(org=broken, items=items, now=now)
        with pytest.raises(RuntimeError, match="injected"):
            usage_rollup(org_id=broken.id, now=now, settle_seconds=0, _fail_after=step)
        assert rollup_tables(broken) == {"hour": {}, "day": {}, "month": {}}
        assert not RollupCursor.objects.filter(org=broken, last_event_id__gt=0).exists()
        usage_rollup(org_id=broken.id, now=now, settle_seconds=0)
        usage_rollup(org_id=broken.id, now=now, settle_seconds=0)  # and once more: nothing changes
        assert rollup_tables(broken) == clean_tables
    assert sum(clean_tables["month"].values()) == sum(Decimal(i % 7 + 1) for i in range(120))


def test_the_cursor_waits_for_events_that_have_not_settled(acme):
    now = timezone.now()
    with scope.org_scope(acme.id):
        meter_record_many(org=acme, now=now - dt.timedelta(minutes=5),
                          items=[MeterInput(metric="decision_calls", value=1, corr_id="old")])
        meter_record_many(org=acme, now=now, items=[MeterInput(metric="decision_calls", value=1, corr_id="fresh")])
        result = usage_rollup(org_id=acme.id, now=now, settle_seconds=30)
        old_id = MeterEvent.objects.get(corr_id="old").id
        assert result.cursor == old_id
        assert sum(r.value for r in UsageHourly.objects.all()) == 2  # both are in the rollups already


def test_backfill_rebuilds_every_bucket_since_a_moment(acme):
    now = timezone.now()
    with scope.org_scope(acme.id):
        meter_record_many(org=acme, now=now, items=[
            MeterInput(metric="decision_calls", value=3, corr_id=f"b{i}", ts=now - dt.timedelta(hours=i)) for i in range(5)])
        usage_rollup(org_id=acme.id, now=now, settle_seconds=0)
        UsageHourly.objects.all().update(value=0)  # damage the rollups
        usage_rollup_backfill(org_id=acme.id, since=now - dt.timedelta(days=1), now=now)
        assert sum(r.value for r in UsageHourly.objects.all()) == 15


def test_backfill_never_rebuilds_hours_whose_events_retention_may_have_purged(acme):
    now = timezone.now()
    with scope.org_scope(acme.id):
        meter_record_many(org=acme, now=now, items=[MeterInput(metric="decision_calls", value=3, corr_id="x")])
        usage_rollup(org_id=acme.id, now=now, settle_seconds=0)
        result = usage_rollup_backfill(org_id=acme.id, since=now - dt.timedelta(days=400), now=now)
    assert result.since == now - dt.timedelta(days=PURGE_FLOOR_DAYS - 1)
