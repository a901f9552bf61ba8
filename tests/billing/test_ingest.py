"""Meter event ingest: per-item results, duplicates never counted twice, lateness rules."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import LateStatus, MeterEvent, UsageAdjustment, UsageCounter, UsageMonthly
from billing.periods import month_of
from billing.services import MeterInput, meter_record, meter_record_many
from dos import scope
from tests.conftest import api_client
from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def meter_api(acme):
    return api_client(make_key(acme, scopes=["meter.write", "usage.read"], name="meter"))


def events(org):
    with scope.org_scope(org.id):
        return list(MeterEvent.objects.order_by("id"))


def test_a_single_event_is_accepted(meter_api, acme):
    response = meter_api.post("/api/v1/meter/events", {"metric": "decision_calls", "value": 1, "corr_id": "c-1"},
                              format="json")
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert [(e.metric, e.value, e.unit) for e in events(acme)] == [("decision_calls", Decimal(1), "count")]


def test_a_batch_reports_each_item(meter_api, acme):
    now = timezone.now()
    batch = {"events": [
        {"metric": "decision_calls", "value": 1, "corr_id": "a"},
        {"metric": "decision_calls", "value": 1, "corr_id": "a"},  # duplicate inside the batch
        {"metric": "teleportations", "value": 1, "corr_id": "b"},
        {"metric": "api_requests", "value": -3, "corr_id": "c"},
        {"metric": "api_requests", "value": 2, "corr_id": "d", "ts": (now + dt.timedelta(hours=1)).isoformat()},
        {"metric": "data_scanned_bytes", "value": 5, "corr_id": "e", "unit": "gbh"},
        {"metric": "compute_seconds", "value": "1.5", "corr_id": "f", "meta": {"job": "nightly"}},
    ]}
    body = meter_api.post("/api/v1/meter/events", batch, format="json").json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 4)
    statuses = [(r["status"], r.get("reason", "")) for r in body["results"]]
    assert statuses[0] == ("accepted", "")
    assert statuses[1] == ("duplicate", "")
    assert statuses[2][0] == "rejected" and "metric" in statuses[2][1]
    assert statuses[3][0] == "rejected" and "value" in statuses[3][1]
    assert statuses[4] == ("rejected", "future_timestamp")
    assert statuses[5] == ("rejected", "wrong_unit")
    assert statuses[6] == ("accepted", "")
    assert len(events(acme)) == 2


def test_a_repeated_event_is_a_duplicate_across_requests(meter_api, acme):
    body = {"metric": "decision_calls", "value": 1, "corr_id": "same"}
    meter_api.post("/api/v1/meter/events", body, format="json")
    second = meter_api.post("/api/v1/meter/events", body, format="json").json()
    assert second["duplicates"] == 1
    assert len(events(acme)) == 1
    with scope.org_scope(acme.id):
        assert UsageCounter.objects.get(name="duplicates").value == 1


def test_metrics_outside_the_plan_are_rejected(acme):
    from tests.factories import make_org

    sandbox = make_org("Tiny Broker", plan="sandbox")
    client = api_client(make_key(sandbox, scopes=["meter.write"]))
    body = client.post("/api/v1/meter/events", {"metric": "hitl_tasks", "value": 1, "corr_id": "x"}, format="json")
    assert body.json()["results"][0]["reason"] == "metric_not_in_plan"


def test_a_batch_over_1000_is_refused_whole(meter_api, acme):
    batch = {"events": [{"metric": "decision_calls", "value": 1, "corr_id": f"c{i}"} for i in range(1001)]}
    response = meter_api.post("/api/v1/meter/events", batch, format="json")
    assert response.status_code == 400
    assert "events" in response.json()["errors"]
    assert events(acme) == []


def test_ingest_needs_the_meter_write_permission(acme):
    client = api_client(make_key(acme, scopes=["usage.read"]))
    response = client.post("/api/v1/meter/events", {"metric": "decision_calls", "value": 1, "corr_id": "z"},
                           format="json")
    assert response.status_code == 403 and response.json()["permission"] == "meter.write"


def test_late_events_are_kept_adjusted_or_dropped(acme):
    now = timezone.now()
    this_month = month_of(now)
    last_month_ts = dt.datetime.combine(this_month, dt.time(), tzinfo=dt.UTC) - dt.timedelta(days=2)
    with scope.org_scope(acme.id):
        UsageMonthly.objects.create(org=acme, metric="decision_calls", month=month_of(last_month_ts), closed_at=now)
        results = meter_record_many(org=acme, now=now, items=[
            MeterInput(metric="decision_calls", value=1, corr_id="on-time", ts=now - dt.timedelta(minutes=5)),
            MeterInput(metric="decision_calls", value=1, corr_id="late-open", ts=now - dt.timedelta(hours=3)),
            MeterInput(metric="decision_calls", value=4, corr_id="late-closed", ts=last_month_ts),
            MeterInput(metric="decision_calls", value=1, corr_id="ancient", ts=now - dt.timedelta(days=400)),
        ])
        assert [r.status for r in results] == ["accepted", "accepted", "accepted", "rejected"]
        assert results[3].reason == "too_late"
        statuses = dict(MeterEvent.objects.values_list("corr_id", "late_status"))
        assert statuses == {"on-time": LateStatus.ON_TIME, "late-open": LateStatus.LATE_KEPT,
                            "late-closed": LateStatus.LATE_ADJUSTED}
        adjustment = UsageAdjustment.objects.get()
        assert (adjustment.value, adjustment.period, adjustment.apply_to_month) == (
            Decimal(4), month_of(last_month_ts), this_month)
        counters = dict(UsageCounter.objects.values_list("name", "value"))
        assert counters == {"late_kept": 1, "late_adjusted": 1, "late_dropped": 1}


def test_meter_record_writes_in_the_callers_transaction(acme):
    from django.db import transaction

    with scope.org_scope(acme.id):
        with pytest.raises(RuntimeError), transaction.atomic():
            meter_record(org=acme, metric="decision_calls", corr_id="rolled-back")
            raise RuntimeError("the metered work failed")
        assert not MeterEvent.objects.filter(corr_id="rolled-back").exists()
        assert meter_record(org=acme, metric="decision_calls", corr_id="rolled-back").status == "accepted"


def test_an_outsider_sees_no_events_and_no_usage(meter_api, acme, outsider):
    meter_api.post("/api/v1/meter/events", {"metric": "decision_calls", "value": 7, "corr_id": "secret"}, format="json")
    outsider_client = api_client(make_key(outsider, scopes=["usage.read", "meter.write"]))
    usage = outsider_client.get("/api/v1/usage", {"metric": "decision_calls"}).json()
    assert usage["total"] == "0" and usage["series"] == []
    with scope.org_scope(outsider.id):
        assert not MeterEvent.objects.exists()
        assert not MeterEvent.unscoped_objects.filter(org_id=acme.id).exists()


def test_only_a_month_that_has_ended_can_be_closed(acme):
    from billing.services import period_close

    now = timezone.now()
    with scope.org_scope(acme.id):
        UsageMonthly.objects.create(org=acme, metric="decision_calls", month=month_of(now))
        with pytest.raises(ValueError, match="has not ended"):
            period_close(org_id=acme.id, month=month_of(now), now=now)
        assert UsageMonthly.objects.get().closed_at is None


def test_lateness_must_stay_below_the_purge_floor(settings):
    """An event purged by retention (after 90 days) must never be accepted again as a late one."""
    from billing.checks import lateness_below_purge_floor
    from billing.meters import PURGE_FLOOR_DAYS

    assert lateness_below_purge_floor() == []
    settings.USAGE_MAX_LATENESS_DAYS = PURGE_FLOOR_DAYS
    [error] = lateness_below_purge_floor()
    assert error.id == "billing.E001"
