"""Outages answer 503 with Retry-After, never 500; a lost connection is re-run once when nothing was
written; a read-only database refuses writes with ``read_only`` and keeps reads working
(docs/runbooks/degradation.md). The losses are real: the backend terminates itself."""

from __future__ import annotations

import pytest
import redis
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection
from django.test import override_settings
from django.urls import path
from rest_framework.response import Response

from billing.api.metered import UsageGuardMixin
from billing.quotas import SEOUL, observed_total
from decisions.models import DecisionRecord, Simulation
from dos import scope
from dos.api.errors import RETRY_AFTER_READ_ONLY, RETRY_AFTER_UNAVAILABLE
from dos.api.permissions import PUBLIC
from dos.api.views import DosApiView
from dos.urls import urlpatterns as real_urlpatterns
from tests.conftest import api_client
from tests.decisions.test_decide_api import BASE
from tests.factories import make_key

PROBLEM = "application/problem+json"
attempts: list[str] = []


def lose_the_connection():
    with connection.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")


class LosesItBeforeWriting(DosApiView):
    permission_map = {"get": PUBLIC}

    def get(self, request):
        attempts.append("read")
        if len(attempts) == 1:
            lose_the_connection()
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return Response({"attempts": len(attempts)})


class LosesItAfterWriting(DosApiView):
    permission_map = {"post": PUBLIC}

    def post(self, request):
        attempts.append("write")
        get_user_model().objects.create_user(email="written-before-the-loss@example.com")
        lose_the_connection()
        return Response({"ok": True}, status=201)


class MeteredLosesItBeforeWriting(UsageGuardMixin, DosApiView):
    permission_map = {"post": "decisions.run"}
    quota_metric = "decision_calls"

    def post(self, request):
        attempts.append("metered")
        if len(attempts) == 1:
            lose_the_connection()
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return Response({"attempts": len(attempts)})


class RedisTimesOut(DosApiView):
    permission_map = {"get": PUBLIC}

    def get(self, request):
        raise redis.TimeoutError("Timeout reading from socket")


def plain_view_losing_the_database(request):
    raise OperationalError("server closed the connection unexpectedly")


urlpatterns = [path("api/v1/probe/lose-before", LosesItBeforeWriting.as_view()),
               path("api/v1/probe/lose-after", LosesItAfterWriting.as_view()),
               path("api/v1/probe/redis-timeout", RedisTimesOut.as_view()),
               path("api/v1/probe/metered-lose-before", MeteredLosesItBeforeWriting.as_view()),
               path("api/v1/probe/plain", plain_view_losing_the_database), *real_urlpatterns]
pytestmark = pytest.mark.urls(__name__)


@pytest.fixture(autouse=True)
def fresh_attempts():
    attempts.clear()
    yield
    attempts.clear()


def assert_retryable(response, code: str, retry_after: int):
    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    assert response.json()["code"] == code and response.json()["corr_id"]
    assert response["Retry-After"] == str(retry_after)


@pytest.mark.django_db(transaction=True)
def test_it_reruns_a_request_once_when_the_connection_is_lost_before_any_write(client):
    response = client.get("/api/v1/probe/lose-before")
    assert response.status_code == 200 and response.json() == {"attempts": 2}


@pytest.mark.django_db(transaction=True)
def test_a_re_run_counts_observed_usage_once(acme):
    from django.utils import timezone

    from tenancy.models import ApiKey

    day = timezone.now().astimezone(SEOUL).date()
    before = observed_total(acme.id, "decision_calls", day)
    key = make_key(acme, scopes=["decisions.run"])
    with scope.org_scope(acme.id):  # used a moment ago: authentication writes nothing this time
        ApiKey.objects.filter(pk=key.key.pk).update(last_used_at=timezone.now())
    response = api_client(key).post("/api/v1/probe/metered-lose-before", {}, format="json")
    assert response.status_code == 200 and response.json() == {"attempts": 2}
    assert observed_total(acme.id, "decision_calls", day) == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_after_a_write_is_503_and_nothing_is_committed(client):
    response = client.post("/api/v1/probe/lose-after", {}, content_type="application/json")
    assert_retryable(response, "database_unavailable", RETRY_AFTER_UNAVAILABLE)
    assert attempts == ["write"]  # not re-run: it had written
    assert not get_user_model().objects.filter(email="written-before-the-loss@example.com").exists()


@pytest.mark.django_db
def test_a_redis_error_that_escapes_is_503_not_500(client):
    assert_retryable(client.get("/api/v1/probe/redis-timeout"), "temporarily_unavailable", RETRY_AFTER_UNAVAILABLE)


@pytest.mark.django_db
def test_a_database_error_outside_the_api_views_is_503_not_500(client):
    client.raise_request_exception = False
    assert_retryable(client.get("/api/v1/probe/plain"), "database_unavailable", RETRY_AFTER_UNAVAILABLE)


@pytest.fixture
def lender(acme, lending):
    return api_client(make_key(acme, scopes=["decisions.run", "decisions.read"], name="lender"))


def decide(client):
    return client.post("/api/v1/decide", {"subject_id": "lead-1", "purpose": "loan_screening", "input": BASE},
                       format="json")


@pytest.mark.django_db
def test_in_read_only_maintenance_decide_is_503_read_only_and_reads_and_simulate_go_on(acme, lending, lender):
    decided = decide(lender).json()["decision_id"]
    with override_settings(DOS_READ_ONLY=True):
        refused = decide(lender)
        read = lender.get(f"/api/v1/decisions/{decided}")
        simulated = lender.post("/api/v1/simulate", {"policy_version": str(lending.id),
                                                     "dataset": "pack:lending_brokerage"}, format="json")
    assert_retryable(refused, "read_only", RETRY_AFTER_READ_ONLY)
    assert read.status_code == 200 and read.json()["decision_id"] == decided
    assert simulated.status_code == 202, simulated.content
    with scope.org_scope(acme.id):
        assert DecisionRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_on_a_read_only_database_writes_are_503_read_only_and_reads_keep_working(acme, lending):
    writer = api_client(make_key(acme, scopes=["decisions.run", "decisions.read"], name="writer"))
    decided = decide(writer).json()["decision_id"]
    reader = api_client(make_key(acme, scopes=["decisions.read"], name="fresh reader"))  # never used: its
    with connection.cursor() as cur:                                          # last-use note cannot be written
        cur.execute("SET default_transaction_read_only = on")  # this session only, as on a standby
    try:
        refused = decide(writer)
        read = reader.get(f"/api/v1/decisions/{decided}")
        simulated = writer.post("/api/v1/simulate", {"policy_version": str(lending.id),
                                                     "dataset": "pack:lending_brokerage"}, format="json")
    finally:
        with connection.cursor() as cur:
            cur.execute("SET default_transaction_read_only = off")
    assert_retryable(refused, "read_only", RETRY_AFTER_READ_ONLY)
    assert read.status_code == 200 and read.json()["decision_id"] == decided
    # A simulation records its job before it runs: with the database read-only it cannot start.
    assert_retryable(simulated, "read_only", RETRY_AFTER_READ_ONLY)
    with scope.org_scope(acme.id):
        assert DecisionRecord.objects.count() == 1 and not Simulation.objects.exists()


def test_the_mapping_never_turns_an_outage_into_a_500():
    from dos.api.errors import unavailable_response

    class Request:
        corr_id = "c0ffee00"

    for exc in (redis.ConnectionError("gone"), OperationalError("terminating connection")):
        assert unavailable_response(Request(), exc).status_code == 503
    assert unavailable_response(Request(), ValueError("a bug")) is None


def test_an_outbox_kick_is_skipped_while_redis_is_known_to_be_down(monkeypatch):
    # The broker is the same Redis: a kick would only wait; the beat sweep delivers the event later.
    from dos import outbox, redis_client
    from dos.tasks import outbox_drain_org

    kicks = []
    monkeypatch.setattr(outbox_drain_org, "delay", lambda **kwargs: kicks.append(kwargs))
    try:
        redis_client.breaker.failed(redis.TimeoutError("Timeout reading from socket"))
        outbox._kick("0f0e0d0c-0000-4000-8000-000000000002")
        assert kicks == []
    finally:
        redis_client.breaker.reset()
    outbox._kick("0f0e0d0c-0000-4000-8000-000000000002")
    assert kicks == [{"org_id": "0f0e0d0c-0000-4000-8000-000000000002"}]
