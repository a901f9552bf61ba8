"""The application's database backends are terminated under load (pg_terminate_backend).

The issue's probe: killing the connections gave 2 × 500 (``OperationalError: terminating
connection``). Now a connection lost before the request wrote is re-run once on a fresh connection;
lost later, the request answers 503 with ``Retry-After`` and nothing committed. A client that retries
a 503 with the same Idempotency-Key ends with exactly one decision per key, and the data equals a
clean run's: one meter event per decision and a decisions chain that verifies.

Only backends of the test's own database are terminated, never the test's own connection.
"""

from __future__ import annotations

import itertools

import pytest
import requests
from django.db import connection

from billing.models import MeterEvent
from decisions.models import DecisionRecord
from dos import scope
from dos.ledger import chain_verify
from tests.chaos.conftest import Load, timed_request
from tests.decisions.test_decide_api import BASE
from tests.factories import make_key, plan_override

pytestmark = pytest.mark.django_db(transaction=True)

MAX_ATTEMPTS = 8
KILL_ROUNDS = 25

TERMINATE = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")


def test_it_answers_every_call_and_decides_each_key_once_while_backends_are_terminated(live_server, acme, lending):
    plan_override(acme, "rate_limit.rps", 5000)  # this test is about connections, not about the org's rate
    plan_override(acme, "rate_limit.burst", 5000)
    secret = make_key(acme, scopes=["decisions.run", "decisions.read"]).secret
    auth = {"Authorization": f"Bearer {secret}"}
    first = requests.post(f"{live_server.url}/api/v1/decide", json={"subject_id": "first", "purpose": "loan_screening",
                          "input": BASE}, headers=auth, timeout=30)
    first.raise_for_status()
    decision_url = f"{live_server.url}/api/v1/decisions/{first.json()['decision_id']}"
    sessions, outcomes, decided = {}, {}, itertools.count(1)
    progress = {"decided": 0}

    def call(worker, n):
        session = sessions.setdefault(worker, requests.Session())
        if n % 3 == 2:  # a read between writes: reads are re-run transparently when they lose the connection
            return timed_request(session, "GET", decision_url, worker=worker, headers=auth)
        key = f"kill-{worker}-{n:05d}"
        for _attempt in range(MAX_ATTEMPTS):  # a client that honours 503 by retrying with its key
            answer = timed_request(session, "POST", f"{live_server.url}/api/v1/decide", worker=worker, json={
                "subject_id": key, "purpose": "loan_screening", "input": BASE},
                headers={**auth, "Idempotency-Key": key, "X-Corr-ID": key})
            outcomes.setdefault(key, []).append(answer)
            if answer.status != 503:
                progress["decided"] = next(decided)
                break
        return answer

    terminated = 0
    with Load(call, workers=6) as load:
        for _round in range(KILL_ROUNDS):
            # Between two terminations the service answers calls and decides at least one key: backends
            # die now and then, not faster than a decision can be made (else a slow decide could lose
            # every attempt to the next round while the fast reads keep the rounds coming).
            seen, made = load.count(), progress["decided"]
            load.wait_for(lambda seen=seen, made=made: load.count() >= seen + 4 and progress["decided"] > made, 30,
                          "answers and a decision between terminations")
            with connection.cursor() as cur:
                cur.execute(TERMINATE)
                terminated += cur.fetchone()[0]

    writes = [a for tries in outcomes.values() for a in tries]
    answers = load.answers + writes
    statuses = sorted({a.status for a in answers})
    assert 500 not in statuses and set(statuses) <= {200, 503}, statuses
    unavailable = [a for a in answers if a.status == 503]
    for refused in unavailable:
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert refused.body["code"] == "database_unavailable" and int(refused.headers["Retry-After"]) > 0
    assert terminated > 0
    assert all(tries[-1].status == 200 for tries in outcomes.values()), "every key is decided in the end"
    reads = [a for a in load.answers if a.body and isinstance(a.body, dict) and "decision_id" in a.body
             and a.worker >= 0 and a.status == 200]
    assert reads

    with scope.org_scope(acme.id):
        corr_ids = list(DecisionRecord.objects.exclude(corr_id="").values_list("corr_id", flat=True))
        records = DecisionRecord.objects.count()
        meters = MeterEvent.objects.filter(metric="decision_calls").count()
        verify = chain_verify(org_id=acme.id, chain="decisions")
    kill_corr_ids = [c for c in corr_ids if c.startswith("kill-")]
    assert sorted(kill_corr_ids) == sorted(outcomes), "exactly one decision per Idempotency-Key"
    assert records == len(outcomes) + 1 and meters == records
    assert verify.ok, verify.reason
    retried = sum(len(tries) > 1 for tries in outcomes.values())
    print(f"\ndb terminate: {terminated} backends terminated in {KILL_ROUNDS} rounds; {len(answers)} answers, "
          f"statuses {statuses}, {len(unavailable)} × 503, {retried} keys needed a client retry, "
          f"{len(outcomes)} keys → {len(kill_corr_ids)} decisions")
