"""GET /api/v1/billing/subscription and POST /api/v1/billing/subscription/change (preview, then
confirm with the preview's token)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from billing.periods import seoul_day
from billing.subscriptions import change_preview
from dos import scope
from tests.billing.subscription_support import live, org_plan, subscribe
from tests.conftest import api_client
from tests.factories import make_key

pytestmark = pytest.mark.django_db
URL = "/api/v1/billing/subscription"
CHANGE = "/api/v1/billing/subscription/change"


@pytest.fixture
def billing_api(acme):
    return api_client(make_key(acme, scopes=["billing.read", "billing.manage"], name="billing"))


@pytest.fixture
def reader_api(acme):
    return api_client(make_key(acme, scopes=["billing.read"], name="reader"))


def month_start():
    return seoul_day(timezone.now()).replace(day=1)


def test_it_shows_the_plan_status_period_and_prices(acme, reader_api):
    subscribe(acme, "pov", today=month_start())
    body = reader_api.get(URL).json()
    assert body["plan"] == {"code": "pov", "title": "PoV"}
    assert body["status"] == "active" and body["billing_cycle"] == "monthly"
    assert body["current_period_start"] == month_start().isoformat()
    assert body["prices"]["base"] == "300000"
    assert body["prices"]["metrics"] == [{"metric": "decision_calls", "model": "standard", "unit": "call",
                                          "included": "0", "unit_price": "20", "tiers": [], "package_size": None,
                                          "package_price": None}]
    assert body["prices"]["seats"] == [{"role": "agent", "included": 5, "monthly_price": "10000"}]
    assert body["scheduled_change"] is None
    assert body["credit_balance"] == 0 and body["coupons"] == []


def test_it_shows_the_credit_left_and_the_coupons_held(acme, reader_api):
    from billing.credits import coupon_redeem, credit_grant
    from billing.models import Coupon
    from tests.billing.subscription_support import fiona

    subscribe(acme, "pov", today=month_start())
    Coupon.objects.create(code="WELCOME10", name="Welcome", kind="percent", percent_off=10, duration_months=3)
    with scope.org_scope(acme.id):
        credit_grant(org_id=acme.id, amount=70_000, reason="prepaid", actor=fiona())
        coupon_redeem(org_id=acme.id, code="WELCOME10", plan_code="pov", actor="system:test")
    body = reader_api.get(URL).json()
    assert body["credit_balance"] == 70_000
    assert body["coupons"] == [{"code": "WELCOME10", "name": "Welcome", "kind": "percent", "value": "10",
                                "periods_applied": 0, "duration_months": 3, "status": "active"}]


def test_it_answers_404_without_a_subscription(reader_api):
    response = reader_api.get(URL)
    assert response.status_code == 404 and response.json()["code"] == "no_subscription"


def test_it_previews_without_writing_then_confirms_with_the_token(acme, billing_api):
    subscribe(acme, "pov", today=month_start())
    preview = billing_api.post(CHANGE, {"plan": "pro", "when": "now"}, format="json")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["applied"] is False and body["subscription"]["plan"]["code"] == "pov"
    with scope.org_scope(acme.id):
        expected = change_preview(subscription=live(acme), plan_code="pro", when="now",
                                  today=seoul_day(timezone.now()))
    assert body["preview"]["proration"] == expected.proration > 0
    assert [line["code"] for line in body["preview"]["changed_lines"]][-1] == "plan:pro"
    assert live(acme).plan.code == "pov"
    confirmed = billing_api.post(CHANGE, {"plan": "pro", "when": "now", "confirm": True,
                                          "token": body["preview"]["token"]}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["applied"] is True and confirmed.json()["subscription"]["plan"]["code"] == "pro"
    assert org_plan(acme) == "pro"


def test_it_refuses_a_stale_or_missing_token(acme, billing_api):
    subscribe(acme, "pov", today=month_start())
    stale = billing_api.post(CHANGE, {"plan": "pro", "when": "now", "confirm": True, "token": "0" * 64},
                             format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "preview_stale"
    missing = billing_api.post(CHANGE, {"plan": "pro", "confirm": True}, format="json")
    assert missing.status_code == 409 and "token" in missing.json()["errors"]
    assert live(acme).plan.code == "pov"


def test_it_names_bad_fields_and_conflicts(acme, billing_api):
    subscribe(acme, "pov", today=month_start())
    unknown = billing_api.post(CHANGE, {"plan": "gold"}, format="json")
    assert unknown.status_code == 400 and "plan" in unknown.json()["errors"]
    same = billing_api.post(CHANGE, {"plan": "pov"}, format="json")
    assert same.status_code == 409 and same.json()["code"] == "no_change"
    bad = billing_api.post(CHANGE, {"plan": "pro", "when": "yesterday"}, format="json")
    assert bad.status_code == 400 and "when" in bad.json()["errors"]


def test_a_reader_cannot_change_the_plan(acme, reader_api):
    subscribe(acme, "pov", today=month_start())
    response = reader_api.post(CHANGE, {"plan": "pro"}, format="json")
    assert response.status_code == 403 and response.json()["permission"] == "billing.manage"


def test_a_confirmed_change_replays_under_the_same_idempotency_key(acme, billing_api):
    subscribe(acme, "pov", today=month_start())
    token = billing_api.post(CHANGE, {"plan": "pro", "when": "period_end"}, format="json").json()["preview"]["token"]
    body = {"plan": "pro", "when": "period_end", "confirm": True, "token": token}
    first = billing_api.post(CHANGE, body, format="json", HTTP_IDEMPOTENCY_KEY="chg-1")
    again = billing_api.post(CHANGE, body, format="json", HTTP_IDEMPOTENCY_KEY="chg-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and first.json()["subscription"]["scheduled_change"]["plan"] == "pro"


def test_an_outsider_sees_and_changes_nothing_of_acme(acme, outsider, billing_api):
    subscribe(acme, "pov", today=month_start())
    intruder = api_client(make_key(outsider, scopes=["billing.read", "billing.manage"], name="intruder"))
    assert intruder.get(URL).status_code == 404
    assert intruder.post(CHANGE, {"plan": "pro", "when": "now"}, format="json").status_code == 404
    assert live(acme).plan.code == "pov" and billing_api.get(URL).status_code == 200
