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
    quotas.stale_counters.take()
    throttle.local_buckets.clear()
    yield
    redis_client.breaker.reset()
    quotas.replay_queue.take()
    quotas.stale_counters.take()
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
        # The Redis counters never heard of these events (no commit): they are seeded from the database.
        with pytest.raises(UsageExceeded):
            quota_check(org=org, metric="decision_calls", now=now)
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
    assert len(quotas.replay_queue) == 1  # the observed-usage key
    assert len(quotas.stale_counters) == 3  # minute, day and month windows: to be summed again
    assert redis_client.breaker.is_open
    minute_key = quotas._key(org_id, "decision_calls", "minute", quotas.quota_bucket("minute", now)[0])
    redis_back_after_the_breaker(monkeypatch)
    redis_client.redis_client().set(minute_key, "1")  # a counter that missed the outage's usage
    usage_observe(org_id=org_id, metric="decision_calls", amount=1, now=now)  # Redis answers: the queue goes first
    assert len(quotas.replay_queue) == 0 and len(quotas.stale_counters) == 0 and not redis_client.breaker.is_open
    day = now.astimezone(quotas.SEOUL).date()
    assert observed_total(org_id, "decision_calls", day) == before + 6
    assert not redis_client.redis_client().exists(minute_key)  # dropped: its next read sums the meter events


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



def _meter(org, n, now):
    import uuid

    batch = uuid.uuid4().hex[:8]
    with scope.org_scope(org.id):
        meter_record_many(org=org, now=now, items=[
            MeterInput(metric="decision_calls", value=1, corr_id=f"m-{batch}-{i}", ts=now) for i in range(n)])


@pytest.mark.django_db
def test_a_window_counter_is_a_cache_of_the_meter_events():
    org, now = make_org("Cache Broker", plan="sandbox"), timezone.now()
    _meter(org, 7, now)
    key = quotas._key(org.id, "decision_calls", "day", quotas.quota_bucket("day", now)[0])
    redis_client.redis_client().delete(key)
    window_counters_add(org.id, [("decision_calls", now, Decimal(2))])  # absent: not created by an increment
    assert not redis_client.redis_client().exists(key)
    with scope.org_scope(org.id):
        assert quotas.window_usage(org.id, "decision_calls", "day", now) == 7  # seeded from the database
    assert Decimal(redis_client.redis_client().get(key).decode()) == 7
    assert 0 < redis_client.redis_client().ttl(key) <= quotas.WINDOW_REFRESH_SECONDS
    window_counters_add(org.id, [("decision_calls", now, Decimal(2))])  # present: incremented
    assert Decimal(redis_client.redis_client().get(key).decode()) == 9


@pytest.mark.django_db
def test_a_flapping_redis_neither_loses_nor_double_counts_a_hard_quota(monkeypatch):
    """Increments lost in an outage, or applied twice by a retried write, never decide a quota:
    the counters they touched are dropped when Redis is back and summed from the meter events."""
    org, now = make_org("Flapping Broker", plan="sandbox"), timezone.now()  # 200 decision calls a day
    _meter(org, 199, now)
    with scope.org_scope(org.id):
        quota_check(org=org, metric="decision_calls", now=now)  # seeds the counters: 199 used
        with override_settings(REDIS_URL=REDIS_GONE):
            window_counters_add(org.id, [("decision_calls", now, Decimal(1))])  # lost
        _meter(org, 1, now)  # the event that increment stood for is in the database
        redis_back_after_the_breaker(monkeypatch)
        usage_replay_ran = quotas.usage_replay()
        assert usage_replay_ran == 3
        with pytest.raises(UsageExceeded):  # 200 of 200: the database decides, not the stale counter
            quota_check(org=org, metric="decision_calls", now=now)
