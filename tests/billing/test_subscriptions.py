"""Subscription lifecycle: start, preview → confirm a change (now with proration, or at the period
end), cancel, resume, past due; the org's tenancy plan follows what it pays."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.models import SubscriptionEvent, SubscriptionPhase, SubscriptionStatus
from billing.rating import rate
from billing.subscriptions import (
    IllegalTransition,
    PreviewStale,
    SubscriptionConflict,
    billable_subscriptions,
    change_preview,
    rating_input,
    subscription_cancel,
    subscription_change,
    subscription_for,
    subscription_resume,
    subscription_roll,
    subscription_start,
    subscription_status_set,
)
from dos import scope
from dos.authz import PermissionRefused
from tests.billing.subscription_support import (
    DEC,
    NOV,
    billing_admin,
    fiona,
    live,
    org_plan,
    preview_and_confirm,
    subscribe,
)
from tests.factories import acting

pytestmark = pytest.mark.django_db
NOV_21 = dt.date(2026, 11, 21)


def test_it_starts_a_subscription_on_the_price_in_force_and_moves_the_tenancy_plan(acme):
    sub = subscribe(acme, "pov")
    assert (sub.plan.code, sub.price_version.version, sub.status) == ("pov", 1, SubscriptionStatus.ACTIVE)
    assert org_plan(acme) == "pov"  # was "pro": entitlements and quotas follow what the org pays
    with scope.org_scope(acme.id):
        assert SubscriptionEvent.objects.get(subscription=sub).kind == "started"
        with pytest.raises(SubscriptionConflict):
            subscription_start(org_id=acme.id, plan_code="pro", actor="system:test", today=NOV)


def test_only_platform_finance_starts_subscriptions(acme):
    with scope.org_scope(acme.id), pytest.raises(PermissionRefused):
        subscription_start(org_id=acme.id, plan_code="pov", actor=billing_admin(acme), today=NOV)


def test_it_previews_an_upgrade_now_with_day_proration_and_confirms_it(acme):
    subscribe(acme, "pov")
    bea = billing_admin(acme)
    preview, sub = preview_and_confirm(acme, bea, "pro", "now", NOV_21)
    # 10 of 30 days move from PoV (₩300,000/month) to Pro (₩1,500,000/month): -100,000 + 500,000.
    assert preview.effective_on == NOV_21
    assert [(line.code, line.amount) for line in preview.changed_lines] == [("plan:pov", 200_000),
                                                                           ("plan:pro", 500_000)]
    assert preview.proration == 400_000
    assert (sub.plan.code, org_plan(acme)) == ("pro", "pro")
    with scope.org_scope(acme.id):
        phases = list(SubscriptionPhase.objects.filter(subscription=sub).values_list("start", "end"))
        assert phases == [(NOV, NOV_21), (NOV_21, None)]
        month = rate(rating_input(sub, NOV))
    base = [(line.code, line.amount) for line in month.lines if line.kind == "base"]
    assert base == [("plan:pov", 200_000), ("plan:pro", 500_000)]  # the invoice carries what the preview showed


def test_it_refuses_a_confirmation_whose_preview_went_stale(acme):
    subscribe(acme, "pov")
    with scope.org_scope(acme.id):
        sub = subscription_for(acme.id)
        preview = change_preview(subscription=sub, plan_code="pro", when="now", today=NOV_21)
        with pytest.raises(PreviewStale):  # a day later the proration differs
            subscription_change(subscription=sub, plan_code="pro", when="now", token=preview.token,
                                actor=billing_admin(acme), today=NOV_21 + dt.timedelta(days=1))
        with pytest.raises(PreviewStale):
            subscription_change(subscription=sub, plan_code="pro", when="now", token="", actor="system:test",
                                today=NOV_21)
        assert subscription_for(acme.id).plan.code == "pov"


def test_a_tenant_cannot_move_itself_to_a_quoted_plan(acme):
    subscribe(acme, "pov")
    with pytest.raises(PermissionRefused):
        preview_and_confirm(acme, billing_admin(acme), "enterprise", "period_end", NOV_21)
    assert live(acme).plan.code == "pov"


def test_a_member_without_billing_manage_cannot_change_the_plan(acme, alice):
    subscribe(acme, "pov")
    with pytest.raises(PermissionRefused):
        preview_and_confirm(acme, acting(alice, {"billing.read"}), "pro", "now", NOV_21)


def test_it_schedules_a_downgrade_for_the_period_end_and_applies_it_on_the_first(acme):
    subscribe(acme, "pro")
    preview, sub = preview_and_confirm(acme, billing_admin(acme), "pov", "period_end", NOV_21)
    assert preview.effective_on == DEC and preview.proration == 0 and preview.next_period_base == 300_000
    assert (sub.plan.code, sub.scheduled_plan.code, sub.scheduled_for) == ("pro", "pov", DEC)
    with scope.org_scope(acme.id):
        assert subscription_roll(subscription=sub, today=dt.date(2026, 11, 30), actor="system:test") == []
        assert subscription_roll(subscription=sub, today=DEC, actor="system:test") == ["changed"]
        assert subscription_roll(subscription=sub, today=DEC, actor="system:test") == []
        sub = subscription_for(acme.id)
        assert (sub.plan.code, sub.scheduled_plan) == ("pov", None)
        assert rate(rating_input(sub, NOV)).line("plan:pro").amount == 1_500_000
        assert rate(rating_input(sub, DEC)).line("plan:pov").amount == 300_000
    assert org_plan(acme) == "pov"


def test_it_cancels_at_the_period_end_and_resumes_before_it(acme):
    sub = subscribe(acme, "pov")
    with scope.org_scope(acme.id):
        sub = subscription_cancel(subscription=sub, actor=billing_admin(acme), today=NOV_21)
        assert sub.cancel_at_period_end and sub.cancelled_on == DEC and sub.status == SubscriptionStatus.ACTIVE
        sub = subscription_resume(subscription=sub, actor="system:test")
        assert not sub.cancel_at_period_end and sub.cancelled_on is None
        with pytest.raises(SubscriptionConflict):
            subscription_resume(subscription=sub, actor="system:test")
        subscription_cancel(subscription=sub, actor="system:test", today=NOV_21)
        subscription_roll(subscription=sub, today=DEC, actor="system:test")
        assert subscription_for(acme.id) is None
    assert org_plan(acme) == "sandbox"


def test_it_cancels_immediately_and_bills_only_the_days_before(acme):
    sub = subscribe(acme, "pov")
    with scope.org_scope(acme.id):
        sub = subscription_cancel(subscription=sub, actor="system:test", today=dt.date(2026, 11, 16),
                                  immediately=True)
        assert sub.status == SubscriptionStatus.CANCELLED
        assert rate(rating_input(sub, NOV)).line("plan:pov").amount == 150_000  # 15 of 30 days
        with pytest.raises(IllegalTransition):
            subscription_resume(subscription=sub, actor="system:test")
    assert org_plan(acme) == "sandbox"
    with scope.platform_scope(reason="test"):
        assert list(billable_subscriptions(NOV)) == [sub]
        assert list(billable_subscriptions(DEC)) == []


def test_a_trial_is_not_billed_and_becomes_active_when_it_ends(acme):
    sub = subscribe(acme, "pov", trial_days=14)
    assert sub.status == SubscriptionStatus.TRIAL and sub.trial_ends_on == dt.date(2026, 11, 15)
    with scope.org_scope(acme.id):
        assert rate(rating_input(sub, NOV)).line("plan:pov").amount == 160_000  # 16 billed days of 30
        assert subscription_roll(subscription=sub, today=dt.date(2026, 11, 15), actor="system:test") == ["activated"]
        assert subscription_for(acme.id).status == SubscriptionStatus.ACTIVE


def test_past_due_follows_the_transition_table(acme):
    sub = subscribe(acme, "pov", trial_days=14)
    finance = fiona()
    with scope.org_scope(acme.id):
        with pytest.raises(IllegalTransition) as refused:
            subscription_status_set(subscription=sub, status="past_due", actor=finance, reason="unpaid")
        assert refused.value.extra["allowed"] == ["active", "cancelled"]
        subscription_roll(subscription=sub, today=dt.date(2026, 11, 15), actor="system:test")
        sub = subscription_status_set(subscription=sub, status="past_due", actor=finance, reason="invoice overdue")
        assert sub.status == "past_due" and sub.past_due_since is not None
        sub = subscription_status_set(subscription=sub, status="active", actor=finance, reason="paid")
        assert sub.status == "active" and sub.past_due_since is None
        with pytest.raises(PermissionRefused):
            subscription_status_set(subscription=sub, status="past_due", actor=billing_admin(acme), reason="x")


def test_an_annual_prepay_changes_only_at_the_period_end(acme):
    subscribe(acme, "pov", billing_cycle="annual")
    with scope.org_scope(acme.id):
        sub = subscription_for(acme.id)
        first = rate(rating_input(sub, NOV))
        assert first.line("plan:pov").amount == 3_600_000 and first.subtotal == 3_240_000
        assert rate(rating_input(sub, DEC)).line("plan:pov") is None
        with pytest.raises(SubscriptionConflict) as refused:
            change_preview(subscription=sub, plan_code="pro", when="now", today=NOV_21)
        assert refused.value.code == "annual_changes_at_period_end"


def test_the_daily_job_rolls_subscriptions_and_records_seats_once(acme, olivia):
    from billing.models import SeatLevel
    from billing.tasks import subscriptions_daily

    sub = subscribe(acme, "pov", trial_days=14)
    assert subscriptions_daily(day="2026-11-15") >= 1
    assert subscriptions_daily(day="2026-11-15") == 0  # redelivered: nothing more
    with scope.org_scope(acme.id):
        assert subscription_for(acme.id).status == SubscriptionStatus.ACTIVE
        assert SeatLevel.objects.get(role="admin").quantity == 1  # olivia, the owner
        assert sub.pk == subscription_for(acme.id).pk


def test_a_change_during_a_trial_previews_only_the_billed_days(acme):
    sub = subscribe(acme, "pov", trial_days=14)  # billed from 15 November
    with scope.org_scope(acme.id):
        preview = change_preview(subscription=sub, plan_code="pro", when="now", today=dt.date(2026, 11, 10))
        assert [(line.code, line.amount) for line in preview.current_lines] == [("plan:pov", 160_000)]
        assert [(line.code, line.amount) for line in preview.changed_lines] == [("plan:pro", 800_000)]
        subscription_change(subscription=sub, plan_code="pro", when="now", token=preview.token,
                            actor="system:test", today=dt.date(2026, 11, 10))
        month = rate(rating_input(subscription_for(acme.id), NOV))
    assert [(line.code, line.amount) for line in month.lines] == [("plan:pro", 800_000)]


def test_the_daily_roll_puts_a_hand_edited_tenancy_plan_back_to_the_plan_paid(acme):
    from tenancy.models import Org
    from tenancy.services import org_update

    sub = subscribe(acme, "pov")
    with scope.org_scope(acme.id):
        org = Org.objects.get(pk=acme.id)
        org.plan = "enterprise"
        org_update(org=org, fields=["plan"], actor="system:test")
        assert subscription_roll(subscription=sub, today=NOV_21, actor="system:test") == ["plan_synced"]
        assert subscription_roll(subscription=sub, today=NOV_21, actor="system:test") == []
    assert org_plan(acme) == "pov"


def test_a_quote_is_pinned_by_platform_finance_and_never_picked_as_a_list_price(acme, outsider):
    from billing.models import PricePlan
    from billing.pricebook import price_version_draft, price_version_publish, version_in_force

    enterprise = PricePlan.objects.get(code="enterprise")
    quote = price_version_draft(plan=enterprise, spec={"base": "9000000"}, effective_from=NOV_21,
                                quote_ref="CT-ACME-2026", actor=fiona())
    quote = price_version_publish(version=quote, actor=fiona(), today=NOV_21)
    assert version_in_force("enterprise", DEC).quote_ref == ""  # another org never lands on Acme's quote
    subscribe(acme, "pov")
    with scope.org_scope(acme.id):
        sub = subscription_for(acme.id)
        with pytest.raises(PermissionRefused):  # a tenant cannot pin a version
            preview = change_preview(subscription=sub, plan_code="pro", when="period_end", today=NOV_21,
                                     version=version_in_force("pro", DEC))
            subscription_change(subscription=sub, plan_code="pro", when="period_end", token=preview.token,
                                actor=billing_admin(acme), today=NOV_21, version=version_in_force("pro", DEC))
        preview = change_preview(subscription=sub, plan_code="enterprise", when="now", today=NOV_21, version=quote)
        assert preview.proration == 3_000_000 - 100_000  # 10 of 30 days: +₩9,000,000/3, -₩300,000/3
        subscription_change(subscription=sub, plan_code="enterprise", when="now", token=preview.token,
                            actor=fiona(), today=NOV_21, version=quote)
        assert subscription_for(acme.id).price_version_id == quote.pk
