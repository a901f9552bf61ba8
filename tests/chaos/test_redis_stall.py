"""Redis stalls under /decide load (SIGSTOP on a Redis the test owns): nothing breaks.

The issue's probe: an 8 s stall gave 9 × 500 out of the throttle/quota path and requests hanging
for 2 s. Here the app runs as it does in production — gunicorn, two worker processes, one Redis for
counters, cache and the Celery broker — and that Redis is stopped for a few seconds under load. Every
call is answered quickly, served from the fallbacks (docs/runbooks/degradation.md) or refused with a
retryable problem; the data afterwards is what a clean run leaves: one decision per answered key, one
meter event per decision, a chain that verifies; and the usage counters queued during the stall are
replayed once Redis is back.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from django.utils import timezone

from billing.models import MeterEvent
from billing.periods import seoul_day
from billing.quotas import _key as quota_key_of
from decisions.models import DecisionRecord
from dos import scope
from dos.ledger import chain_verify
from tests.chaos.conftest import Load, WebServer, timed_request
from tests.decisions.test_decide_api import BASE
from tests.factories import make_key, plan_override

pytestmark = pytest.mark.django_db(transaction=True)

RETRYABLE = {429, 503}
STALL_SECONDS = 3.0


def decide_call(session, base_url, secret, key: str, subject: str, worker: int):
    return timed_request(session, "POST", f"{base_url}/api/v1/decide", worker=worker, json={
        "subject_id": subject, "purpose": "loan_screening", "input": BASE},
        headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": key, "X-Corr-ID": key})


@pytest.fixture
def web(tmp_path, private_redis, acme, lending):
    plan_override(acme, "rate_limit.rps", 5000)  # this test is about Redis, not about the org's rate
    plan_override(acme, "rate_limit.burst", 5000)
    url = private_redis.url()
    server = WebServer(tmp_path, {"REDIS_URL": url, "CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url})
    try:
        yield server
    finally:
        server.stop()


def test_it_serves_decide_through_a_redis_stall_and_keeps_the_data_clean(web, private_redis, acme):
    secret = make_key(acme, scopes=["decisions.run", "decisions.read"]).secret
    sessions = {}

    def call(worker, n):
        session = sessions.setdefault(worker, requests.Session())
        key = f"stall-{worker}-{n:05d}"
        return decide_call(session, web.url, secret, key, key, worker)

    stalled_from = resumed_at = burst_done = 0.0
    with Load(call, workers=6) as load:
        load.wait_for(lambda: load.count() >= 30, 30, "warm-up answers")
        private_redis.pause()
        stalled_from = time.monotonic()
        # Fifty identical calls with one Idempotency-Key, while Redis is stopped: one decision.
        with ThreadPoolExecutor(50) as pool:
            same = list(pool.map(lambda i: decide_call(requests.Session(), web.url, secret, "same-key-0001",
                                                       "same-subject", 100 + i), range(50)))
        burst_done, at_burst_end = time.monotonic(), load.count()
        # Long enough after the burst for the breakers' trial calls to meet the stopped Redis again.
        load.wait_for(lambda: time.monotonic() - burst_done >= STALL_SECONDS and load.count() >= at_burst_end + 60,
                      30, "answers during the stall")
        private_redis.resume()
        resumed_at = time.monotonic()
        after = load.count()
        load.wait_for(lambda: load.count() >= after + 30, 30, "answers after the stall")
    answers = load.answers + same

    statuses = sorted({a.status for a in answers})
    assert set(statuses) <= {200} | RETRYABLE, statuses
    for refused in (a for a in answers if a.status in RETRYABLE):
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.headers["Content-Type"].startswith("application/problem+json")
    during = [a for a in answers if stalled_from <= a.started < resumed_at]
    assert sum(a.status == 200 for a in during) >= 30, "served while Redis was stopped"
    # Latency is judged after the 50-call burst, which queues on the workers' threads by itself.
    steady = sorted(a.seconds for a in during if a.started >= burst_done)
    assert steady[-1] < 1.0, ("no request waits out Redis", steady[-5:])

    same_ids = {a.body["decision_id"] for a in same if a.status == 200}
    assert len(same_ids) == 1 and sum(a.status == 200 for a in same) == 50

    # Redis is back: each worker replays the counters it queued on its next counter write, and
    # /readyz is plain ok again. (Observed usage counts every call let through, so it is at least
    # the number of decisions; without the replay it would be short by the calls of the stall.)
    counters = redis.Redis.from_url(private_redis.url())
    day = seoul_day(timezone.now()).isoformat()
    observed_key, quota_key = (quota_key_of(acme.id, "decision_calls", "day", day, kind="obs"),
                               quota_key_of(acme.id, "decision_calls", "day", day))

    def decisions() -> int:
        with scope.org_scope(acme.id):
            return DecisionRecord.objects.count()

    extra = []
    deadline = time.monotonic() + 20
    while True:
        # A new connection per call, so the calls reach every web worker (each replays its own queue).
        extra.append(decide_call(requests.Session(), web.url, secret, f"after-{len(extra):04d}", "after", 0))
        replayed = float(counters.get(observed_key) or 0) >= decisions() \
            and float(counters.get(quota_key) or 0) >= decisions()
        if replayed and requests.get(f"{web.url}/readyz", timeout=10).json()["status"] == "ok":
            break
        assert time.monotonic() < deadline, ("the queued usage counters are replayed", counters.get(observed_key),
                                             counters.get(quota_key), decisions())
    assert all(a.status == 200 for a in extra)

    answered = {a.body["decision_id"] for a in answers + extra if a.status == 200}
    with scope.org_scope(acme.id):
        corr_ids = list(DecisionRecord.objects.values_list("corr_id", flat=True))
        meters = MeterEvent.objects.filter(metric="decision_calls").count()
        verify = chain_verify(org_id=acme.id, chain="decisions")
    assert len(corr_ids) == len(set(corr_ids)) == len(answered), "one decision per Idempotency-Key"
    assert meters == len(corr_ids)
    assert verify.ok, verify.reason
    print(f"\nredis stall (gunicorn 2×4): {len(answers)} answers, {len(during)} during a "
          f"{resumed_at - stalled_from:.1f}s stall, statuses {statuses}; after the 50-call burst "
          f"({burst_done - stalled_from:.2f}s) max {steady[-1] * 1000:.0f} ms, median "
          f"{steady[len(steady) // 2] * 1000:.0f} ms; {len(extra)} calls until every counter was replayed")
