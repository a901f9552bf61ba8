"""A subscription's month from the database to the rated lines: usage rollups, seat levels synced
from memberships, coupons and prepaid credit — and what an issued invoice records of them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction

from billing.credits import CouponRefused, coupon_redeem, credit_balances, credit_grant
from billing.models import Coupon, CouponRedemption, CreditConsumption, SeatLevel
from billing.periods import month_start_utc
from billing.rating import rate
from billing.rollups import usage_rollup
from billing.seats import seats_set, seats_sync
from billing.services import MeterInput, meter_record_many
from billing.subscriptions import on_invoice_issued, rating_input
from dos import scope
from dos.authz import PermissionRefused
from tests.billing.invoicing_support import draft_for, issued_for
from tests.billing.subscription_support import DEC, NOV, billing_admin, fiona, subscribe
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db
SYNC_DAY = dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.UTC)  # 09:30 on 1 November in Seoul


def decides(org, count: int, *, at=dt.datetime(2026, 11, 12, 3, 0, tzinfo=dt.UTC)):
    with scope.org_scope(org.id):
        meter_record_many(org=org, items=[MeterInput(metric="decision_calls", value=count, corr_id=f"batch-{count}",
                                                     ts=at, source="decide")], now=at)
        usage_rollup(org_id=org.id, now=at + dt.timedelta(hours=2), settle_seconds=0)


def agents(org, n: int):
    for i in range(n):
        add_member(org, UserFactory(email=f"agent{i}@{org.slug}.example"), "agent")


def test_a_pov_month_of_12345_decides_and_7_agents_rates_to_566900_before_vat(acme):
    sub = subscribe(acme, "pov")
    agents(acme, 7)
    with scope.org_scope(acme.id):
        assert seats_sync(org_id=acme.id, actor="system:billing.seats", now=SYNC_DAY)["agent"] == 7
        assert seats_sync(org_id=acme.id, actor="system:billing.seats", now=SYNC_DAY) == {}  # idempotent
    decides(acme, 12_345)
    with scope.org_scope(acme.id):
        rating = rate(rating_input(sub, NOV))
    assert {line.code: line.amount for line in rating.lines} == {
        "plan:pov": 300_000, "usage:decision_calls": 246_900, "seat:agent": 20_000}
    assert rating.subtotal == 566_900
    # The invoice adds VAT once: ₩56,690, total ₩623,590 (billing.invoicing).
    invoice = draft_for(acme, rating=rating)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (566_900, 56_690, 623_590)


def test_a_seat_added_mid_month_is_prorated_from_the_day_it_was_synced(acme):
    sub = subscribe(acme, "pov")
    agents(acme, 5)
    with scope.org_scope(acme.id):
        seats_sync(org_id=acme.id, actor="system:billing.seats", now=SYNC_DAY)
    add_member(acme, UserFactory(email="late@acme.example"), "agent")
    with scope.org_scope(acme.id):
        seats_sync(org_id=acme.id, actor="system:billing.seats", now=dt.datetime(2026, 11, 16, 1, tzinfo=dt.UTC))
        assert list(SeatLevel.objects.filter(role="agent").order_by("since").values_list("since", "quantity")) == [
            (NOV, 5), (dt.date(2026, 11, 16), 6)]
        seat = rate(rating_input(sub, NOV)).line("seat:agent")
    assert (seat.quantity, seat.amount) == (15, 5_000)


def test_a_person_holds_one_seat_in_their_highest_role(acme, olivia, alice, bob):
    with scope.org_scope(acme.id):
        add_member(acme, alice, "agent")  # alice reviews and works cases: one reviewer seat
        assert seats_sync(org_id=acme.id, actor="system:test", now=SYNC_DAY) == {"admin": 1, "reviewer": 2}
        with pytest.raises(PermissionRefused):
            seats_set(org_id=acme.id, role="agent", quantity=20, since=DEC, actor=billing_admin(acme), reason="x")
        seats_set(org_id=acme.id, role="agent", quantity=20, since=DEC, actor=fiona(), reason="contract seats")
        assert SeatLevel.objects.get(role="agent", since=DEC).source == "manual"


def test_coupons_apply_before_credits_and_an_issued_invoice_records_both_once(acme):
    sub = subscribe(acme, "pov")
    Coupon.objects.create(code="WELCOME10", name="Welcome", kind="percent", percent_off=Decimal(10),
                          duration_months=1)
    decides(acme, 12_345)
    with scope.org_scope(acme.id):
        coupon_redeem(org_id=acme.id, code="welcome10", plan_code="pov", actor=billing_admin(acme),
                      now=month_start_utc(NOV))
        with pytest.raises(CouponRefused):
            coupon_redeem(org_id=acme.id, code="WELCOME10", plan_code="pov", actor="system:test")
        grant = credit_grant(org_id=acme.id, amount=100_000, reason="PoV onboarding", actor=fiona())
        rating = rate(rating_input(sub, NOV))
    assert [(line.code, line.amount) for line in rating.lines] == [
        ("plan:pov", 300_000), ("usage:decision_calls", 246_900), ("coupon:WELCOME10", -54_690),
        ("credit", -100_000)]
    assert rating.subtotal == 392_210
    invoice = issued_for(acme, rating=rating)  # the issue calls on_invoice_issued
    with scope.org_scope(acme.id):
        on_invoice_issued(invoice, actor="system:test")  # a second call changes nothing
        assert list(CreditConsumption.objects.values_list("grant_id", "amount")) == [(grant.pk, 100_000)]
        assert credit_balances(acme.id, at=month_start_utc(DEC)) == []
        redemption = CouponRedemption.objects.get()
        assert (redemption.periods_applied, redemption.status) == (1, "exhausted")
        december = rate(rating_input(sub, DEC))
        assert december.line("coupon:WELCOME10") is None and december.line("credit") is None
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            CreditConsumption.objects.update(amount=1)


def test_only_platform_finance_grants_credit(acme):
    with scope.org_scope(acme.id), pytest.raises(PermissionRefused):
        credit_grant(org_id=acme.id, amount=1_000_000, reason="self-service gift", actor=billing_admin(acme))


def test_a_coupon_outside_its_plan_date_or_cap_is_refused(acme, outsider):
    Coupon.objects.create(code="PILOTONLY", name="Pilot", kind="fixed", amount_off=1000, plans=["pilot"])
    Coupon.objects.create(code="OLD", name="Old", kind="fixed", amount_off=1000,
                          redeem_by=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    Coupon.objects.create(code="ONCE", name="Once", kind="fixed", amount_off=1000, max_redemptions=1)
    with scope.org_scope(outsider.id):
        coupon_redeem(org_id=outsider.id, code="ONCE", plan_code="pilot", actor="system:test")
    with scope.org_scope(acme.id):
        for code, reason in [("PILOTONLY", "coupon_not_for_plan"), ("OLD", "coupon_expired"),
                             ("ONCE", "coupon_exhausted")]:
            with pytest.raises(CouponRefused) as refused:
                coupon_redeem(org_id=acme.id, code=code, plan_code="pov", actor="system:test")
            assert refused.value.code == reason
        assert CouponRedemption.objects.count() == 0


def test_a_withdrawn_coupon_and_an_expired_credit_no_longer_reduce_a_bill(acme):
    from billing.credits import coupon_save

    sub = subscribe(acme, "pov")
    coupon = Coupon.objects.create(code="SPRING", name="Spring", kind="fixed", amount_off=20_000)
    with scope.org_scope(acme.id):
        coupon_redeem(org_id=acme.id, code="SPRING", plan_code="pov", actor="system:test",
                      now=month_start_utc(NOV))
        credit_grant(org_id=acme.id, amount=30_000, reason="promo", actor=fiona(),
                     expires_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
        assert rate(rating_input(sub, NOV)).subtotal == 280_000  # the credit expired before the month ended
        coupon.active = False
        coupon_save(coupon=coupon, actor=fiona())
        assert CouponRedemption.objects.get().status == "expired"
        assert rate(rating_input(sub, NOV)).subtotal == 300_000
