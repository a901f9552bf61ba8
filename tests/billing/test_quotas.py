"""Quotas, entitlements and the per-org token bucket, against the real Redis."""

import pytest
from django.urls import path
from rest_framework.response import Response

from billing import throttle
from billing.api.metered import UsageGuardMixin
from billing.models import MeterEvent
from billing.services import meter_record
from dos import scope
from dos.api.views import DosApiView
from dos.urls import urlpatterns as real_urlpatterns
from tests.conftest import api_client
from tests.factories import make_key, make_org, plan_override


class MeteredProbe(UsageGuardMixin, DosApiView):
    """Stands for /decide: guarded by entitlement and the decision_calls quota, metered in-transaction."""

    permission_map = {"post": "decisions.run"}
    entitlement = "decisions.run.basic"
    quota_metric = "decision_calls"

    def post(self, request):
        meter_record(org=request.auth.org, metric="decision_calls", corr_id=request.corr_id, source="decide")
        return Response({"ok": True}, status=201)


class HitlProbe(MeteredProbe):
    entitlement = "hitl.basic"


urlpatterns = [path("api/v1/probe/decide", MeteredProbe.as_view()),
               path("api/v1/probe/hitl", HitlProbe.as_view()), *real_urlpatterns]
pytestmark = pytest.mark.urls(__name__)


def sandbox_client(name="Tiny Broker"):
    org = make_org(name, plan="sandbox")  # 200 decision calls per day
    plan_override(org, "rate_limit.rps", 10000)  # isolate the quota from throttling
    plan_override(org, "rate_limit.burst", 10000)
    return org, api_client(make_key(org, scopes=["decisions.run"]))


@pytest.mark.django_db(transaction=True)
def test_the_201st_call_of_the_day_is_refused_after_soft_warnings():
    org, client = sandbox_client()
    warnings_from = None
    for n in range(1, 201):
        response = client.post("/api/v1/probe/decide", {}, format="json")
        assert response.status_code == 201, (n, response.content)
        if warnings_from is None and "X-Usage-Warning" in response:
            warnings_from = n
    assert warnings_from == 161  # soft limit: 80 % of 200
    refused = client.post("/api/v1/probe/decide", {}, format="json")
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "usage_exceeded" and body["quota"] == "decision_calls_per_day" and body["limit"] == 200
    assert int(refused["Retry-After"]) > 0
    with scope.org_scope(org.id):
        assert MeterEvent.objects.filter(metric="decision_calls").count() == 200


@pytest.mark.django_db(transaction=True)
def test_quotas_are_per_org():
    _busy, busy_client = sandbox_client("Busy Broker")
    _calm, calm_client = sandbox_client("Calm Broker")
    for _ in range(200):
        busy_client.post("/api/v1/probe/decide", {}, format="json")
    assert busy_client.post("/api/v1/probe/decide", {}, format="json").status_code == 429
    assert calm_client.post("/api/v1/probe/decide", {}, format="json").status_code == 201


@pytest.mark.django_db
def test_a_missing_entitlement_is_403_before_any_work():
    org, client = sandbox_client()
    response = client.post("/api/v1/probe/hitl", {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "entitlement_missing" and response.json()["entitlement"] == "hitl.basic"
    with scope.org_scope(org.id):
        assert not MeterEvent.objects.exists()


@pytest.mark.django_db
def test_one_orgs_empty_bucket_does_not_slow_another(monkeypatch):
    monkeypatch.setattr(throttle, "clock", lambda: 1_000_000.0)  # time stands still: no refill
    noisy = make_org("Noisy Broker", plan="sandbox")  # 5 req/s, burst 10
    quiet = make_org("Quiet Broker", plan="sandbox")
    noisy_client = api_client(make_key(noisy, scopes=["decisions.run"]))
    quiet_client = api_client(make_key(quiet, scopes=["decisions.run"]))
    assert [noisy_client.get("/api/v1/me").status_code for _ in range(10)] == [200] * 10
    throttled = noisy_client.get("/api/v1/me")
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    assert float(throttled["Retry-After"]) > 0
    assert [quiet_client.get("/api/v1/me").status_code for _ in range(10)] == [200] * 10
    monkeypatch.setattr(throttle, "clock", lambda: 1_000_000.0 + 1.0)  # one second later: 5 tokens back
    assert noisy_client.get("/api/v1/me").status_code == 200
