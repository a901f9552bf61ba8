"""The pricing back office: platform finance drafts, publishes (with a typed confirmation) and diffs
price versions, grants credit, and sees every org's subscriptions; a tenant's billing admin sees and
acts on its own subscription and account."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.models import BillingAccount, CreditGrant, PriceVersion, Subscription
from dos import scope
from dos.scope import ScopeError
from tests.billing.subscription_support import live, subscribe
from tests.factories import query_count, verified_client

pytestmark = pytest.mark.django_db


SPEC = '{"base": "350000", "metrics": {"decision_calls": {"model": "standard", "unit_price": "18"}}, ' \
       '"seats": {"agent": {"included": 5, "monthly_price": "10000"}}}'


def test_platform_finance_drafts_publishes_and_diffs_a_price(client, fiona):
    c = verified_client(client, fiona)
    pov = PriceVersion.objects.get(plan__code="pov", version=1).plan
    response = c.post("/admin/billing/priceversion/add/", {"plan": pov.pk, "effective_from": "2027-01-01",
                                                           "spec": SPEC, "quote_ref": "", "notes": "2027"})
    assert response.status_code == 302, response.content[:500]
    draft = PriceVersion.objects.get(plan=pov, version=2)
    assert draft.status == "draft" and draft.created_by.startswith("user:")
    action = {"action": "publish_selected", "_selected_action": [str(draft.pk)]}
    confirm = c.post("/admin/billing/priceversion/", action)
    assert confirm.status_code == 200 and b"typed_count" in confirm.content
    c.post("/admin/billing/priceversion/", {**action, "confirmed": "yes", "typed_count": "1"})
    draft.refresh_from_db()
    assert draft.status == "published" and len(draft.spec_sha256) == 64
    page = c.get(f"/admin/billing/priceversion/{draft.pk}/diff/").content.decode()
    assert "metrics.decision_calls.unit_price" in page and "350000" in page and "300000" in page


def test_platform_finance_grants_credit_and_sees_every_orgs_subscriptions(client, fiona, acme, outsider):
    subscribe(acme, "pov")
    subscribe(outsider, "pilot")
    c = verified_client(client, fiona)
    page = c.get("/admin/billing/subscription/")
    assert page.context_data["cl"].result_count == 2
    narrowed = c.get("/admin/billing/subscription/", {"org__id__exact": str(acme.id)})
    assert narrowed.context_data["cl"].result_count == 1
    response = c.post("/admin/billing/creditgrant/add/", {"org": str(acme.id), "amount": "50000",
                                                          "reason": "Outage in November"})
    assert response.status_code == 302, response.content[:500]
    with scope.org_scope(acme.id):
        assert CreditGrant.objects.get().amount == 50_000
    assert c.get("/admin/billing/creditgrant/").status_code == 200


def test_a_billing_admin_cancels_its_subscription_at_the_period_end_with_confirmation(client, bill, acme):
    sub = subscribe(acme, "pov")
    c = verified_client(client, bill)
    action = {"action": "cancel_at_period_end_selected", "_selected_action": [str(sub.pk)]}
    assert c.post("/admin/billing/subscription/", action).status_code == 200  # the confirmation page
    assert not live(acme).cancel_at_period_end
    c.post("/admin/billing/subscription/", {**action, "confirmed": "yes"})
    assert live(acme).cancel_at_period_end
    # Standing (past due / active) is platform finance's: the action reports the refusal.
    c.post("/admin/billing/subscription/", {"action": "mark_past_due", "_selected_action": [str(sub.pk)],
                                            "confirmed": "yes"})
    assert live(acme).status == "active"


def test_a_billing_admin_edits_the_account_but_not_its_tax_status(client, bill, acme):
    with scope.org_scope(acme.id):
        account = BillingAccount.objects.create(org_id=acme.id, legal_name="Acme")
    c = verified_client(client, bill)
    form = {"legal_name": "에이크미 렌딩", "registration_number": "134-86-72683", "address": "", "business_type": "",
            "business_item": "", "contact_name": "김민수", "contact_email": "", "payment_provider": "",
            "payment_method_token": "", "payment_method_label": "", "tax_exempt": "exempt"}
    response = c.post(f"/admin/billing/billingaccount/{account.pk}/change/", form)
    assert response.status_code == 302, response.content[:500]
    with scope.org_scope(acme.id):
        account.refresh_from_db()
    assert account.legal_name == "에이크미 렌딩" and account.registration_number == "1348672683"
    assert account.tax_exempt == "none"


def test_the_changelists_run_a_constant_number_of_queries(client, fiona, acme, outsider):
    c = verified_client(client, fiona)
    subscribe(acme, "pov")
    pages = ("subscription", "priceversion", "priceplan", "coupon", "creditgrant", "seatlevel", "billingaccount")
    before = {page: query_count(c, f"/admin/billing/{page}/") for page in pages}
    subscribe(outsider, "pro")
    with scope.org_scope(outsider.id):
        BillingAccount.objects.create(org_id=outsider.id, legal_name="Outsider")
    after = {page: query_count(c, f"/admin/billing/{page}/") for page in pages}
    assert after == before
    with pytest.raises(ScopeError):  # outside a scope the ORM fails closed
        Subscription.objects.count()


def test_rated_lines_and_the_pricing_pages_read_in_korean(client, fiona, acme):
    from django.utils import translation

    from billing.rating import rate
    from tests.billing.rating_fixtures import POV, month_input

    rating = rate(month_input(POV, seats=[("agent", dt.date(2026, 11, 1), 6)]))
    with translation.override("ko"):
        assert [translation.gettext(line.description) for line in rating.lines] == ["플랜 요금", "추가 상담원 좌석"]
        subscribe(acme, "pov")
        page = verified_client(client, fiona).get("/admin/billing/subscription/", HTTP_ACCEPT_LANGUAGE="ko")
        assert "구독" in page.content.decode()


def test_a_billing_admin_previews_and_confirms_a_plan_change_in_the_back_office(client, bill, acme):
    sub = subscribe(acme, "pov")
    c = verified_client(client, bill)
    url = f"/admin/billing/subscription/{sub.pk}/change-plan/"
    assert "change-plan-form" in c.get(url).content.decode()
    preview = c.post(url, {"plan": "pro", "when": "period_end", "billing_cycle": "monthly"})
    page = preview.content.decode()
    assert "confirm-form" in page and "₩1,500,000" in page
    assert live(acme).scheduled_plan is None  # a preview writes nothing
    token = preview.context_data["preview"].token
    done = c.post(url, {"plan": "pro", "when": "period_end", "billing_cycle": "monthly", "token": token,
                        "confirmed": "yes"})
    assert done.status_code == 302
    assert live(acme).scheduled_plan.code == "pro"
    stale = c.post(url, {"plan": "pilot", "when": "period_end", "billing_cycle": "monthly", "token": token,
                         "confirmed": "yes"})
    assert stale.status_code == 200 and live(acme).scheduled_plan.code == "pro"


def test_the_change_plan_page_is_404_for_an_outsider(client, acme, mallory):
    sub = subscribe(acme, "pov")
    c = verified_client(client, mallory)
    url = f"/admin/billing/subscription/{sub.pk}/change-plan/"
    assert c.get(url).status_code == 404
    assert c.post(url, {"plan": "pro", "when": "now", "billing_cycle": "monthly"}).status_code == 404
    assert live(acme).plan.code == "pov"


def test_platform_finance_starts_a_subscription_on_a_quote_and_the_tenancy_plan_follows(client, fiona, acme, bill):
    from billing.models import PricePlan
    from billing.pricebook import price_version_draft, price_version_publish
    from tests.billing.subscription_support import fiona as finance_principal
    from tests.billing.subscription_support import org_plan

    enterprise = PricePlan.objects.get(code="enterprise")
    quote = price_version_draft(plan=enterprise, spec={"base": "9000000"}, effective_from=dt.date(2026, 12, 2),
                                quote_ref="CT-ACME-2026", actor=finance_principal())
    quote = price_version_publish(version=quote, actor=finance_principal(), today=dt.date(2026, 12, 2))
    c = verified_client(client, fiona)
    response = c.post("/admin/billing/subscription/add/", {
        "org": str(acme.id), "plan": enterprise.pk, "price_version": quote.pk, "billing_cycle": "monthly",
        "started_on": "2026-12-02"})
    assert response.status_code == 302, response.content[:800]
    sub = live(acme)
    assert (sub.plan.code, sub.price_version_id, org_plan(acme)) == ("enterprise", quote.pk, "enterprise")
    again = c.post("/admin/billing/subscription/add/", {
        "org": str(acme.id), "plan": enterprise.pk, "billing_cycle": "monthly", "started_on": "2026-12-02"})
    assert again.status_code == 302 and live(acme).price_version_id == quote.pk  # one live subscription per org
    # A tenant's billing admin does not start subscriptions.
    assert verified_client(client, bill).get("/admin/billing/subscription/add/").status_code == 403
