"""Rating is a pure function from a month of one subscription to invoice lines (ADR 0012): exact
decimals, each line rounded once half up to the won, every line explained in its meta."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.rating import CouponGrant, CreditBalance, PlanSegment, Usage, rate
from tests.billing.rating_fixtures import DEC, NOV, POV, TIERS, month_input, spec


def test_it_rates_the_seeds_token_fixture_to_one_won_after_line_rounding():
    # seeds 000 "tokens=130 (over=30 → 0.6 KRW)": 100 included, 30 over at ₩0.02 = ₩0.6 exactly,
    # and the line rounds once, half up, to ₩1.
    price = spec(metrics={"tokens": {"model": "standard", "unit_price": "0.02", "included": "100"}})
    rating = rate(month_input(price, usage=[("tokens", "130")]))
    line = rating.line("usage:tokens")
    assert line.quantity == Decimal(30)
    assert line.unit_price == Decimal("0.02")
    assert Decimal(line.meta["exact"]) == Decimal("0.6")
    assert line.meta["included"] == "100" and line.meta["used"] == "130"
    assert line.amount == 1
    assert rating.subtotal == 1


@pytest.mark.parametrize(("tokens", "exact", "won"), [("124", "0.48", 0), ("125", "0.50", 1), ("149", "0.98", 1)])
def test_it_rounds_each_line_half_up_exactly_once(tokens, exact, won):
    price = spec(metrics={"tokens": {"model": "standard", "unit_price": "0.02", "included": "100"}})
    line = rate(month_input(price, usage=[("tokens", tokens)])).line("usage:tokens")
    assert Decimal(line.meta["exact"]) == Decimal(exact)
    assert line.amount == won


def test_it_rates_a_pov_month_of_12345_decides_and_7_agents_to_the_won():
    rating = rate(month_input(POV, usage=[("decision_calls", "12345")], seats=[("agent", NOV, 7)]))
    amounts = {line.code: line.amount for line in rating.lines}
    assert amounts == {"plan:pov": 300_000, "usage:decision_calls": 246_900, "seat:agent": 20_000}
    assert rating.subtotal == 566_900  # VAT (10 %, one rounding per invoice) is the invoice's: ₩56,690 → ₩623,590
    seat = rating.line("seat:agent")
    assert seat.quantity == 60 and seat.unit == "seat-day"
    assert seat.meta["included"] == 5 and seat.meta["days"] == [
        {"from": "2026-11-01", "to": "2026-11-30", "days": 30, "seats": 7, "extra": 2}]
    assert rating.meta["price_version_id"] == 2 and rating.meta["period"]["days"] == 30


def test_it_prorates_a_seat_added_mid_month_by_day():
    # 5 agents are included; a sixth joins on 16 November: 15 of 30 days → ₩10,000 × 15/30.
    rating = rate(month_input(POV, seats=[("agent", dt.date(2026, 10, 3), 5), ("agent", dt.date(2026, 11, 16), 6)]))
    seat = rating.line("seat:agent")
    assert seat.quantity == 15
    assert seat.amount == 5_000
    assert [run["extra"] for run in seat.meta["days"]] == [0, 1]
    assert seat.meta["days"][1] == {"from": "2026-11-16", "to": "2026-11-30", "days": 15, "seats": 6, "extra": 1}


def test_it_prorates_a_seat_in_a_31_day_month_exactly_before_rounding():
    # 10 seat-days of ₩10,000/month in December: 100,000/31 = 3,225.806… → ₩3,226 (multiply, divide once).
    rating = rate(month_input(POV, start=DEC, end=dt.date(2027, 1, 1),
                              seats=[("agent", DEC, 5), ("agent", dt.date(2026, 12, 22), 6)]))
    seat = rating.line("seat:agent")
    assert seat.quantity == 10
    assert Decimal(seat.meta["exact"]).quantize(Decimal("0.001")) == Decimal("3225.806")
    assert seat.amount == 3_226


def graduated(qty: int) -> int:
    price = spec(metrics={"decision_calls": {"model": "graduated", "tiers": TIERS}})
    return rate(month_input(price, usage=[("decision_calls", qty)])).subtotal


def volume(qty: int) -> int:
    price = spec(metrics={"decision_calls": {"model": "volume", "tiers": TIERS}})
    return rate(month_input(price, usage=[("decision_calls", qty)])).subtotal


@pytest.mark.parametrize(("qty", "won"), [(99_999, 1_999_980), (100_000, 2_000_000), (100_001, 2_000_015),
                                          (1_000_000, 15_500_000), (1_000_001, 15_500_010)])
def test_it_prices_graduated_tiers_at_the_boundaries(qty, won):
    assert graduated(qty) == won


def test_it_explains_the_graduated_tiers_crossed():
    price = spec(metrics={"decision_calls": {"model": "graduated", "tiers": TIERS}})
    line = rate(month_input(price, usage=[("decision_calls", 100_001)])).line("usage:decision_calls")
    assert [(t["above"], t["up_to"], t["quantity"], t["unit_price"]) for t in line.meta["tiers"]] == [
        ("0", "100000", "100000", "20"), ("100000", "1000000", "1", "15")]
    assert line.unit_price is None


@pytest.mark.parametrize(("qty", "won", "unit_price"), [(99_999, 1_999_980, "20"), (100_000, 2_000_000, "20"),
                                                        (100_001, 1_500_015, "15")])
def test_it_prices_volume_tiers_at_the_boundaries(qty, won, unit_price):
    price = spec(metrics={"decision_calls": {"model": "volume", "tiers": TIERS}})
    line = rate(month_input(price, usage=[("decision_calls", qty)])).line("usage:decision_calls")
    assert line.amount == won
    assert line.unit_price == Decimal(unit_price)
    assert line.meta["tiers"][0]["tier"] == (1 if qty <= 100_000 else 2)


def test_it_charges_started_packages_of_1000_calls():
    price = spec(metrics={"ingest_calls": {"model": "package", "package_size": "1000", "package_price": "500"}})
    for calls, packages in [(1, 1), (1000, 1), (1001, 2), (12_345, 13)]:
        line = rate(month_input(price, usage=[("ingest_calls", calls)])).line("usage:ingest_calls")
        assert (line.quantity, line.amount, line.unit) == (packages, packages * 500, "1,000 calls")


def test_it_consumes_the_inclusion_before_the_tiers():
    price = spec(metrics={"decision_calls": {"model": "volume", "included": "50000", "tiers": TIERS}})
    line = rate(month_input(price, usage=[("decision_calls", 150_001)])).line("usage:decision_calls")
    assert line.quantity == 100_001 and line.amount == 1_500_015


def test_it_tops_up_to_the_pilot_monthly_minimum():
    pilot = spec("pilot", minimum="2000000",
                 metrics={"decision_calls": {"model": "graduated", "tiers": TIERS}})
    rating = rate(month_input(pilot, usage=[("decision_calls", 40_000)]))
    assert rating.line("usage:decision_calls").amount == 800_000
    assert rating.line("minimum:pilot").amount == 1_200_000
    assert rating.subtotal == 2_000_000
    busy = rate(month_input(pilot, usage=[("decision_calls", 120_000)]))
    assert busy.line("minimum:pilot") is None and busy.subtotal == 2_300_000


def test_it_applies_coupons_before_credits_and_percentages_before_fixed_amounts():
    coupons = [CouponGrant("FIXED50K", 2, "fixed", amount_off=50_000),
               CouponGrant("WELCOME10", 1, "percent", percent_off=Decimal("10"))]
    credits = [CreditBalance(7, 100_000), CreditBalance(8, 1_000_000)]
    rating = rate(month_input(POV, usage=[("decision_calls", "12345")], seats=[("agent", NOV, 7)],
                              coupons=coupons, credits=credits))
    codes = [line.code for line in rating.lines]
    assert codes == ["plan:pov", "usage:decision_calls", "seat:agent", "coupon:WELCOME10", "coupon:FIXED50K", "credit"]
    assert rating.line("coupon:WELCOME10").amount == -56_690      # 10 % of 566,900
    assert rating.line("coupon:FIXED50K").amount == -50_000       # on what is left: 510,210
    credit = rating.line("credit")
    assert credit.amount == -460_210                               # everything left, first grant first
    assert credit.meta["grants"] == [{"grant_id": 7, "amount": 100_000, "balance_before": 100_000},
                                     {"grant_id": 8, "amount": 360_210, "balance_before": 1_000_000}]
    assert rating.subtotal == 0


def test_it_keeps_coupons_within_their_band():
    capped = CouponGrant("HALF", 1, "percent", percent_off=Decimal("50"), max_discount=100_000)
    floor = CouponGrant("BIG", 2, "fixed", amount_off=10_000, min_subtotal=1_000_000)
    rating = rate(month_input(POV, coupons=[capped, floor]))
    assert rating.line("coupon:HALF").amount == -100_000 and rating.line("coupon:HALF").meta["capped_at"] == 100_000
    assert rating.line("coupon:BIG") is None   # ₩300,000 of charges is below its ₩1,000,000 band
    assert rating.subtotal == 200_000


def test_it_never_lets_a_fixed_coupon_push_the_subtotal_below_zero():
    rating = rate(month_input(POV, coupons=[CouponGrant("HUGE", 1, "fixed", amount_off=10_000_000)]))
    assert rating.line("coupon:HUGE").amount == -300_000 and rating.subtotal == 0


def test_it_prorates_the_base_fee_across_an_immediate_plan_change():
    pro = spec("pro", base="1500000")
    segments = (PlanSegment(POV, NOV, dt.date(2026, 11, 21)), PlanSegment(pro, dt.date(2026, 11, 21), DEC))
    rating = rate(month_input(pro, segments=segments))
    base = [line for line in rating.lines if line.kind == "base"]
    assert [(b.code, b.quantity, b.amount) for b in base] == [("plan:pov", 20, 200_000), ("plan:pro", 10, 500_000)]
    assert base[0].meta["days"] == 20 and base[0].meta["days_in_period"] == 30


def test_it_bills_a_prepaid_year_with_the_annual_discount_once():
    opening = rate(month_input(POV, billing_cycle="annual", annual_term_start=True))
    assert opening.line("plan:pov").amount == 3_600_000
    assert opening.line("discount:annual_prepay").amount == -360_000
    assert opening.subtotal == 3_240_000
    later = rate(month_input(POV, billing_cycle="annual", usage=[("decision_calls", 10)]))
    assert later.line("plan:pov") is None and later.subtotal == 200


def test_it_counts_late_adjustments_with_the_month_they_are_billed_in():
    rating = rate(month_input(POV, usage=[Usage("decision_calls", Decimal(100)),
                                          Usage("decision_calls", Decimal(5), adjustment=True)]))
    line = rating.line("usage:decision_calls")
    assert line.quantity == 105 and line.meta["late_adjustments"] == "5"


def test_it_bills_nothing_for_days_in_trial():
    rating = rate(month_input(POV, segments=(), usage=[("decision_calls", "500")]))
    assert rating.lines == () and rating.subtotal == 0


def test_it_is_deterministic_and_digests_its_inputs():
    inp = month_input(POV, usage=[("decision_calls", "7")])
    assert rate(inp) == rate(inp)
    other = rate(month_input(POV, usage=[("decision_calls", "8")]))
    assert rate(inp).meta["inputs_digest"] != other.meta["inputs_digest"]
