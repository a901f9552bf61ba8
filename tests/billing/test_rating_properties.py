"""Properties of rating that hold for every input (Hypothesis): where usage is recorded never changes
the bill, graduated tiers never charge less for more, and nothing but discounts and credits is
negative."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.rating import CouponGrant, CreditBalance, Usage, rate
from tests.billing.rating_fixtures import NOV, POV, month_input, spec

PRICES = st.decimals(min_value=0, max_value=50, places=3)
QUANTITIES = st.integers(min_value=0, max_value=3_000_000)


@st.composite
def tiered_specs(draw, model: str | None = None):
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=2_000_000), min_size=0, max_size=3)))
    prices = draw(st.lists(PRICES, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    tiers = [{"up_to": str(b), "unit_price": str(p)} for b, p in zip(bounds, prices, strict=False)]
    tiers.append({"up_to": None, "unit_price": str(prices[-1])})
    model = model or draw(st.sampled_from(["graduated", "volume"]))
    included = draw(st.integers(min_value=0, max_value=10_000))
    return spec(metrics={"decision_calls": {"model": model, "tiers": tiers, "included": str(included)}},
                base=str(draw(st.integers(min_value=0, max_value=2_000_000))),
                seats={"agent": {"included": draw(st.integers(0, 5)), "monthly_price": str(draw(PRICES) * 1000)}})


@st.composite
def splits(draw, total: int):
    """``total`` cut into day-sized parts spread over the month (and some repeated days)."""
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=total), max_size=12)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
    days = draw(st.lists(st.integers(min_value=0, max_value=29), min_size=len(parts), max_size=len(parts)))
    return [Usage("decision_calls", Decimal(p), day=NOV + dt.timedelta(days=d)) for p, d in zip(parts, days, strict=True)]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), price=tiered_specs(), total=QUANTITIES)
def test_splitting_usage_across_days_never_changes_the_total(data, price, total):
    whole = rate(month_input(price, usage=[Usage("decision_calls", Decimal(total))]))
    split = rate(month_input(price, usage=data.draw(splits(total))))
    assert split.subtotal == whole.subtotal
    assert split.lines == whole.lines


@settings(max_examples=150, deadline=None)
@given(price=tiered_specs("graduated"), a=QUANTITIES, b=QUANTITIES)
def test_graduated_tiers_are_monotone(price, a, b):
    low, high = sorted((a, b))
    assert rate(month_input(price, usage=[("decision_calls", low)])).subtotal <= \
        rate(month_input(price, usage=[("decision_calls", high)])).subtotal


@settings(max_examples=150, deadline=None)
@given(price=tiered_specs("volume"), a=QUANTITIES, b=QUANTITIES)
def test_volume_tiers_are_monotone_within_a_tier(price, a, b):
    # Across a bound a volume price may drop (every unit moves to the cheaper tier: ADR 0012);
    # within one tier more usage never costs less.
    low, high = sorted((a, b))
    metric = price.metric("decision_calls")
    bounds = [t.up_to for t in metric.tiers if t.up_to is not None]

    def tier_of(q):
        billable = max(0, q - metric.included)
        return sum(1 for bound in bounds if billable > bound)

    if tier_of(low) == tier_of(high):
        assert rate(month_input(price, usage=[("decision_calls", low)])).subtotal <= \
            rate(month_input(price, usage=[("decision_calls", high)])).subtotal


def test_volume_tiers_drop_at_a_bound_when_the_next_tier_is_cheaper():
    price = spec(metrics={"decision_calls": {"model": "volume", "tiers": [
        {"up_to": "100000", "unit_price": "20"}, {"up_to": None, "unit_price": "15"}]}})
    assert rate(month_input(price, usage=[("decision_calls", 100_001)])).subtotal < \
        rate(month_input(price, usage=[("decision_calls", 100_000)])).subtotal


seat_levels = st.lists(st.tuples(st.just("agent"), st.integers(min_value=0, max_value=29).map(
    lambda d: NOV + dt.timedelta(days=d)), st.integers(min_value=0, max_value=40)), max_size=6)
coupons = st.lists(st.one_of(
    st.builds(lambda p, cap, floor: CouponGrant("P", 1, "percent", percent_off=p, max_discount=cap, min_subtotal=floor),
              st.decimals(min_value="0.01", max_value=100, places=2), st.none() | st.integers(0, 10**6),
              st.integers(0, 10**6)),
    st.builds(lambda a: CouponGrant("F", 2, "fixed", amount_off=a), st.integers(1, 10**7))), max_size=3)
balances = st.lists(st.builds(CreditBalance, st.integers(1, 99), st.integers(1, 10**7)), max_size=3)


@settings(max_examples=200, deadline=None)
@given(price=tiered_specs(), qty=QUANTITIES, seats=seat_levels, coupons=coupons, credits=balances,
       annual=st.booleans())
def test_no_line_is_negative_but_discounts_and_credits(price, qty, seats, coupons, credits, annual):
    rating = rate(month_input(price, usage=[("decision_calls", qty)], seats=seats, coupons=coupons,
                              credits=credits, billing_cycle="annual" if annual else "monthly",
                              annual_term_start=annual))
    for line in rating.lines:
        if line.kind in ("discount", "credit"):
            assert line.amount <= 0
        else:
            assert line.amount >= 0
    assert rating.subtotal == sum(line.amount for line in rating.lines) >= 0
    # Credit is never spent on an amount a coupon already removed, nor beyond what is left.
    credit = rating.line("credit")
    if credit:
        assert -credit.amount <= sum(c.remaining for c in credits)


@settings(max_examples=100, deadline=None)
@given(qty=st.integers(0, 10**7), agents=st.integers(0, 50))
def test_pov_is_base_plus_twenty_won_per_decide_plus_prorated_extra_agents(qty, agents):
    rating = rate(month_input(POV, usage=[("decision_calls", qty)], seats=[("agent", NOV, agents)]))
    assert rating.subtotal == 300_000 + 20 * qty + 10_000 * max(0, agents - 5)
