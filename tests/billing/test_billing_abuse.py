"""What a tenant's billing admin cannot do to its own bill: escape a month by switching to Sandbox
near its end, price a month's usage under a plan it held for a day, get a prepaid year's upgrade for
free, or undo what platform finance scheduled."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.accounts import billing_account_update
from billing.close import month_close
from billing.models import CreditGrant, Invoice
from billing.rating import rate
from billing.subscriptions import (
    SubscriptionConflict,
    rating_input,
    subscription_cancel,
    subscription_for,
    subscription_resume,
    subscription_roll,
)
from dos import scope
from dos.authz import PermissionRefused
from tests.billing.invoicing_support import ISSUED_AT
from tests.billing.subscription_support import DEC, NOV, billing_admin, fiona, live, preview_and_confirm, subscribe
from tests.billing.test_subscriptions_billing import decides

pytestmark = pytest.mark.django_db
NOV_30 = dt.date(2026, 11, 30)
CLOSER = "system:billing.close"


def _account(org):
    with scope.org_scope(org.id):
        billing_account_update(org_id=org.id, changes={"legal_name": "Acme"}, actor="system:test")


def _november(org) -> Invoice:
    with scope.org_scope(org.id):
        return Invoice.objects.get(period_start=NOV)


def _lines(invoice: Invoice) -> dict[str, int]:
    with scope.org_scope(invoice.org_id):
        return {line.code: line.amount for line in invoice.lines.all()}


def _pov_month(org, calls: int) -> dict[str, int]:
    """What a plain PoV November with ``calls`` decisions rates to (the yardstick)."""
    with scope.org_scope(org.id):
        return {line.code: line.amount for line in rate(rating_input(live(org), NOV)).lines}


# ------------------------------------------------------------------ H1: the month is billed by its phases


def test_a_tenant_cannot_downgrade_to_sandbox_now(acme):
    subscribe(acme, "pov")
    with pytest.raises(SubscriptionConflict) as refused:
        preview_and_confirm(acme, billing_admin(acme), "sandbox", "now", NOV_30)
    assert refused.value.code == "downgrade_at_period_end"
    assert live(acme).plan.code == "pov"


def test_a_tenant_downgrade_at_the_period_end_bills_the_whole_month(acme):
    _account(acme)
    subscribe(acme, "pov")
    decides(acme, 100_000)
    expected = _pov_month(acme, 100_000)
    preview_and_confirm(acme, billing_admin(acme), "sandbox", "period_end", NOV_30)
    with scope.org_scope(acme.id):
        subscription_roll(subscription=subscription_for(acme.id), today=DEC, actor="system:test")
    assert live(acme).plan.code == "sandbox"
    report = month_close(month=NOV, actor=CLOSER, now=ISSUED_AT)
    assert report.orgs == 1
    lines = _lines(_november(acme))
    assert lines["plan:pov"] == expected["plan:pov"] == 300_000
    assert lines["usage:decision_calls"] == expected["usage:decision_calls"] > 0


def test_a_sandbox_day_at_the_month_end_never_escapes_the_paid_days(acme):
    """Platform finance may move an org to Sandbox now; the month's paid days and usage are still billed."""
    _account(acme)
    subscribe(acme, "pov")
    decides(acme, 100_000)
    expected = _pov_month(acme, 100_000)
    preview_and_confirm(acme, fiona(), "sandbox", "now", NOV_30)
    report = month_close(month=NOV, actor=CLOSER, now=ISSUED_AT)
    assert report.orgs == 1 and report.drafts == 1
    lines = _lines(_november(acme))
    assert lines["plan:pov"] == 290_000  # 29 of 30 days
    assert lines["usage:decision_calls"] == expected["usage:decision_calls"]


def test_usage_is_rated_under_the_price_the_month_started_on(acme):
    """Switching to Sandbox and back (or up to another plan) late in the month reprices nothing."""
    _account(acme)
    subscribe(acme, "pov")
    decides(acme, 100_000)
    expected = _pov_month(acme, 100_000)
    preview_and_confirm(acme, fiona(), "sandbox", "now", NOV_30)
    preview_and_confirm(acme, fiona(), "pov", "now", DEC)
    month_close(month=NOV, actor=CLOSER, now=ISSUED_AT)
    lines = _lines(_november(acme))
    assert lines["usage:decision_calls"] == expected["usage:decision_calls"]
    assert (lines["plan:pov"], lines["plan:sandbox"]) == (290_000, 0)


def test_an_upgrade_on_the_last_day_keeps_the_months_usage_at_the_opening_price(acme):
    _account(acme)
    subscribe(acme, "pov")
    decides(acme, 100_000)
    expected = _pov_month(acme, 100_000)
    preview_and_confirm(acme, billing_admin(acme), "pro", "now", NOV_30)
    with scope.org_scope(acme.id):
        rating = rate(rating_input(live(acme), NOV))
    assert rating.line("usage:decision_calls").amount == expected["usage:decision_calls"]
    assert rating.meta["plan"] == "pov"
    with scope.org_scope(acme.id):  # December starts on Pro and is rated under it
        assert rate(rating_input(live(acme), DEC)).meta["plan"] == "pro"


# ------------------------------------------------------------------ H2: a prepaid year is not upgraded for free


def test_a_tenant_changes_a_prepaid_year_only_at_its_end(acme):
    subscribe(acme, "pov", billing_cycle="annual")
    bea = billing_admin(acme)
    with pytest.raises(SubscriptionConflict) as refused:
        preview_and_confirm(acme, bea, "pro", "period_end", dt.date(2026, 11, 10), billing_cycle="annual")
    assert refused.value.code == "annual_term_running"
    assert live(acme).scheduled_plan_id is None
    # In the year's last month the change is scheduled for the day the next year starts.
    _preview, sub = preview_and_confirm(acme, bea, "pro", "period_end", dt.date(2027, 10, 10), billing_cycle="annual")
    assert (sub.scheduled_plan.code, sub.scheduled_for) == ("pro", dt.date(2027, 11, 1))


def test_platform_finance_changes_a_prepaid_year_early_and_the_new_year_is_billed_with_a_credit(acme):
    subscribe(acme, "pov", billing_cycle="annual")
    with scope.org_scope(acme.id):
        november = rate(rating_input(live(acme), NOV))
    paid = november.subtotal
    assert paid == 3_240_000  # 12 × 300,000 less the 10 % annual discount
    preview, _sub = preview_and_confirm(acme, fiona(), "pro", "period_end", dt.date(2026, 11, 10),
                                        billing_cycle="annual")
    assert any("₩2,970,000" in note for note in preview.notes)
    with scope.org_scope(acme.id):
        subscription_roll(subscription=subscription_for(acme.id), today=DEC, actor="system:test")
        sub = subscription_for(acme.id)
        assert (sub.plan.code, sub.annual_term_start) == ("pro", DEC)
        december = rate(rating_input(sub, DEC))
        grant = CreditGrant.objects.get(source="annual_term")
    assert grant.amount == paid * 11 // 12  # the 11 unused months of the PoV year
    assert december.line("plan:pro").amount > 0  # the Pro year is billed when it starts
    assert december.line("credit").amount == -min(grant.amount, december.charges() + sum(
        line.amount for line in december.lines if line.kind == "discount"))


# ------------------------------------------------------------------ M2: what platform finance scheduled stays


def test_a_tenant_cannot_undo_or_replace_a_change_platform_finance_scheduled(acme):
    subscribe(acme, "pov")
    preview_and_confirm(acme, fiona(), "pro", "period_end", dt.date(2026, 11, 10))
    bea = billing_admin(acme)
    with scope.org_scope(acme.id), pytest.raises(PermissionRefused) as refused:
        subscription_resume(subscription=subscription_for(acme.id), actor=bea)
    assert refused.value.code == "platform_scheduled"
    with pytest.raises(PermissionRefused):
        preview_and_confirm(acme, bea, "pilot", "period_end", dt.date(2026, 11, 11))
    assert live(acme).scheduled_plan.code == "pro"
    with scope.org_scope(acme.id):  # platform finance withdraws its own change
        subscription_resume(subscription=subscription_for(acme.id), actor=fiona())
    assert live(acme).scheduled_plan_id is None


def test_a_tenant_cannot_resume_a_cancellation_platform_finance_scheduled(acme):
    subscribe(acme, "pov")
    with scope.org_scope(acme.id):
        subscription_cancel(subscription=subscription_for(acme.id), actor=fiona(), today=dt.date(2026, 11, 10),
                            reason="contract ends")
        with pytest.raises(PermissionRefused):
            subscription_resume(subscription=subscription_for(acme.id), actor=billing_admin(acme))
    assert live(acme).cancel_at_period_end


def test_a_tenant_still_undoes_what_it_scheduled_itself(acme):
    subscribe(acme, "pov")
    bea = billing_admin(acme)
    preview_and_confirm(acme, bea, "pro", "period_end", dt.date(2026, 11, 10))
    with scope.org_scope(acme.id):
        subscription_resume(subscription=subscription_for(acme.id), actor=bea)
    assert live(acme).scheduled_plan_id is None


def test_the_api_preview_already_refuses_a_tenant_downgrade_now(acme):
    from tests.conftest import api_client
    from tests.factories import make_key

    subscribe(acme, "pov")
    client = api_client(make_key(acme, scopes=["billing.read", "billing.manage"], name="billing"))
    response = client.post("/api/v1/billing/subscription/change",
                                    {"plan": "sandbox", "when": "now", "confirm": False}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "downgrade_at_period_end"
    assert response["Content-Type"].startswith("application/problem+json")
