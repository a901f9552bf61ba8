"""When Redis is gone: the rate limit, the hard quotas and the usage counters fall back
(docs/runbooks/degradation.md). "Gone" is real here: REDIS_URL points at a port nobody listens on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from billing import quotas, throttle
from billing.quotas import UsageExceeded, observed_total, quota_check, usage_observe, window_counters_add
from billing.services import MeterInput, meter_record_many
from dos import redis_client, scope
from tests.conftest import api_client
from tests.factories import make_key, make_org

REDIS_GONE = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def clean_fallback_state():
    redis_client.breaker.reset()
    quotas.replay_queue.take()
    throttle.local_buckets.clear()
    yield
    redis_client.breaker.reset()
    quotas.replay_queue.take()
    throttle.local_buckets.clear()


def redis_back_after_the_breaker(monkeypatch):
    """The breaker's retry time passes (its clock is injected, nobody sleeps)."""
    later = redis_client.monotonic() + 3600
    monkeypatch.setattr(redis_client, "monotonic", lambda: later)


def test_the_in_process_bucket_has_the_same_rate_and_burst():
    with override_settings(REDIS_URL=REDIS_GONE):
        takes = [throttle.bucket_take(org_id="org-a", rate=1.0, burst=2.0, now=100.0) for _ in range(3)]
        assert [t.allowed for t in takes] == [True, True, False]
        assert takes[2].wait == pytest.approx(1.0)
        assert throttle.bucket_take(org_id="org-b", rate=1.0, burst=2.0, now=100.0).allowed  # per org
        assert throttle.bucket_take(org_id="org-a", rate=1.0, burst=2.0, now=101.0).allowed  # refilled


@pytest.mark.django_db
def test_it_throttles_from_the_in_process_bucket_when_redis_is_gone(monkeypatch):
    monkeypatch.setattr(throttle, "clock", lambda: 2_000_000.0)  # no refill
    org = make_org("Noisy Broker", plan="sandbox")  # 5 req/s, burst 10
    client = api_client(make_key(org, scopes=["decisions.run"]))
    with override_settings(REDIS_URL=REDIS_GONE):
        assert [client.get("/api/v1/me").status_code for _ in range(10)] == [200] * 10
        throttled = client.get("/api/v1/me")
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    assert float(throttled["Retry-After"]) > 0


def _use_up_the_sandbox_day(org, now):
    """200 decision calls (the sandbox's daily quota) as meter events. The test transaction never
    commits, so the Redis window counters never hear of them: only the database knows."""
    with scope.org_scope(org.id):
        meter_record_many(org=org, now=now, items=[
            MeterInput(metric="decision_calls", value=1, corr_id=f"c-{i:04d}", ts=now) for i in range(200)])


@pytest.mark.django_db
def test_hard_quotas_fall_back_to_the_meter_events_in_the_database():
    org = make_org("Tiny Broker", plan="sandbox")
    now = timezone.now()
    _use_up_the_sandbox_day(org, now)
    with scope.org_scope(org.id):
        assert quota_check(org=org, metric="decision_calls", now=now).warning == ""  # Redis: nothing counted yet
        with override_settings(REDIS_URL=REDIS_GONE), pytest.raises(UsageExceeded) as refused:
            quota_check(org=org, metric="decision_calls", now=now)
    assert refused.value.extra["quota"] == "decision_calls_per_day" and refused.value.extra["used"] == "200"
    assert refused.value.retry_after > 0


@pytest.mark.django_db
def test_the_database_fallback_counts_only_the_window():
    org = make_org("Tiny Broker", plan="sandbox")
    now = timezone.now()
    _use_up_the_sandbox_day(org, now - dt.timedelta(days=1))
    with scope.org_scope(org.id), override_settings(REDIS_URL=REDIS_GONE):
        assert quotas.metered_usage(org.id, "decision_calls", "day", now) == 0
        assert quotas.metered_usage(org.id, "decision_calls", "month", now - dt.timedelta(days=1)) == 200
        quota_check(org=org, metric="decision_calls", now=now)  # yesterday's calls do not count today


def test_usage_counters_are_queued_while_redis_is_gone_and_replayed_when_it_answers(monkeypatch, settings):
    org_id, now = "0f0e0d0c-0000-4000-8000-000000000001", timezone.now()
    before = observed_total(org_id, "decision_calls", now.astimezone(quotas.SEOUL).date())
    with override_settings(REDIS_URL=REDIS_GONE):
        usage_observe(org_id=org_id, metric="decision_calls", amount=2, now=now)  # fails, opens the breaker
        usage_observe(org_id=org_id, metric="decision_calls", amount=3, now=now)  # fails fast, merged
        window_counters_add(org_id, [("decision_calls", now, Decimal(5))])  # never raises (runs on commit)
    assert len(quotas.replay_queue) == 4  # one observed-usage key + minute, day and month windows
    assert redis_client.breaker.is_open
    redis_back_after_the_breaker(monkeypatch)
    usage_observe(org_id=org_id, metric="decision_calls", amount=1, now=now)  # Redis answers: the queue goes first
    assert len(quotas.replay_queue) == 0 and not redis_client.breaker.is_open
    day = now.astimezone(quotas.SEOUL).date()
    assert observed_total(org_id, "decision_calls", day) == before + 6
    assert quotas.window_usage(org_id, "decision_calls", "minute", now) >= 5


@pytest.mark.django_db
def test_any_api_request_replays_the_queue_once_redis_answers(monkeypatch):
    """A read (no counter write of its own) is enough: the throttle's Redis call replays the queue."""
    org = make_org("Replay Broker", plan="pro")
    client = api_client(make_key(org, scopes=["decisions.read"]))
    now = timezone.now()
    before = observed_total(org.id, "decision_calls", now.astimezone(quotas.SEOUL).date())
    with override_settings(REDIS_URL=REDIS_GONE):
        usage_observe(org_id=org.id, metric="decision_calls", amount=4, now=now)
        assert client.get("/api/v1/me").status_code == 200  # served by the local bucket; queue kept
    assert len(quotas.replay_queue) == 1
    redis_back_after_the_breaker(monkeypatch)
    assert client.get("/api/v1/me").status_code == 200
    assert len(quotas.replay_queue) == 0
    assert observed_total(org.id, "decision_calls", now.astimezone(quotas.SEOUL).date()) == before + 4
