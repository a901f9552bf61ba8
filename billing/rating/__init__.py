"""Rating: a pure, deterministic function from one month of one subscription to invoice lines.

``rate(RatingInput) -> Rating`` reads no database and no clock. Every line is computed in exact
decimals and rounded once, half up, to the won; its ``meta`` explains the computation (tiers
crossed, proration days, coupon and credit ids). Order of the lines and of the reductions
(docs/decisions/0012-pricing-and-rating.md):

1. charges — base fee per plan segment (day-prorated), usage per metric, extra seats per role
   (seat-days), then the monthly minimum's top-up;
2. the annual prepay discount (when a prepaid year opens);
3. coupons — percentages first, then fixed amounts, each on what is left and within its band;
4. prepaid credits — consumed last, up to what is left, so credit is never spent on an amount a
   coupon would have removed.

No line is negative except discounts and credits, and the subtotal never goes below zero.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_noop as _noop

from billing.money import ROUNDING, div, mul, round_minor
from billing.rating.models import price_metric
from billing.rating.proration import billed_days, prorate, seat_days
from billing.rating.types import (  # noqa: F401  (the public names of the package)
    LINE_KINDS,
    PRICE_MODELS,
    SEAT_ROLES,
    CouponGrant,
    CreditBalance,
    MetricPrice,
    PlanSegment,
    PriceSpec,
    RatingInput,
    SeatLevel,
    SeatPrice,
    Tier,
    Usage,
)
from dos.canonical import canonical_json, sha256_hex

CHARGE_KINDS = ("base", "usage", "seat", "minimum")
REDUCTION_KINDS = ("discount", "credit")


@dataclass(frozen=True)
class RatedLine:
    kind: str            # "base" | "usage" | "seat" | "minimum" | "discount" | "credit"
    code: str            # "plan:pov", "usage:decision_calls", "seat:agent", "coupon:WELCOME", "credit"
    description: str     # English source string; rendered through gettext by callers
    quantity: Decimal
    unit: str            # "month" | "day" | "call" | "seat-day" | "1,000 calls" | "GB-day" | …
    unit_price: Decimal | None
    amount: int          # won, this line rounded once (ROUND_HALF_UP); negative only for discount/credit
    meta: dict           # JSON-safe explanation

    def as_dict(self) -> dict:
        return {"kind": self.kind, "code": self.code, "description": self.description,
                "quantity": str(self.quantity), "unit": self.unit,
                "unit_price": None if self.unit_price is None else str(self.unit_price),
                "amount": self.amount, "meta": self.meta}


@dataclass(frozen=True)
class Rating:
    lines: tuple[RatedLine, ...]
    subtotal: int        # sum of line amounts, before VAT (never below 0)
    meta: dict           # price version id, period, inputs digest

    def charges(self) -> int:
        return sum(line.amount for line in self.lines if line.kind in CHARGE_KINDS)

    def line(self, code: str) -> RatedLine | None:
        return next((line for line in self.lines if line.code == code), None)


def inputs_digest(inp: RatingInput) -> str:
    """sha256 over the canonical JSON of the input (without its free-form ``meta``): the same inputs
    always give the same digest, so a draft can tell whether it must be recomputed."""
    data = dataclasses.asdict(inp)
    data.pop("meta", None)
    return sha256_hex(canonical_json(data))


def rate(inp: RatingInput) -> Rating:
    """Rate one billing period. Pure and deterministic: no database, no clock, no floats."""
    if inp.currency != "KRW":
        raise ValueError("Rating bills in KRW only.")
    n_days = inp.days_in_period
    price = inp.price
    lines: list[RatedLine] = []
    if price is not None:
        lines += _base_lines(inp, n_days)
        lines += _usage_lines(inp, price)
        lines += _seat_lines(inp, price, n_days)
        lines += _minimum_line(inp, price, n_days, sum(line.amount for line in lines))
        lines += _annual_discount(inp, price)
        lines += _coupon_lines(inp, sum(line.amount for line in lines))
        lines += _credit_line(inp, sum(line.amount for line in lines))
    subtotal = sum(line.amount for line in lines)
    if subtotal < 0:  # reductions are capped at what is left, so this is a defect, never a bill
        raise ValueError(f"rating produced a negative subtotal ({subtotal})")
    return Rating(lines=tuple(lines), subtotal=subtotal, meta={
        "price_version_id": price.version_id if price else None,
        "plan": price.plan if price else None,
        "price_version": price.version if price else None,
        "period": {"start": inp.period_start.isoformat(), "end": inp.period_end.isoformat(), "days": n_days},
        "billing_cycle": inp.billing_cycle,
        "currency": inp.currency,
        "inputs_digest": inputs_digest(inp),
        "rounding": "per line, half up, to the won",
    })


def _base_lines(inp: RatingInput, n_days: int) -> list[RatedLine]:
    if inp.billing_cycle == "annual":
        price = inp.price
        if not inp.annual_term_start or price.base <= 0:
            return []
        amount = round_minor(mul(price.base, 12))
        return [RatedLine("base", f"plan:{price.plan}", _noop("Plan fee, 12 months prepaid"), Decimal(12), "month",
                          price.base, amount, {"price_version": price.version, "price_version_id": price.version_id,
                                               "annual": True})]
    lines = []
    for segment in inp.segments:
        price = segment.price
        seg_days = (segment.end - segment.start).days
        full = seg_days == n_days
        exact = price.base if full else prorate(price.base, seg_days, n_days)
        meta = {"price_version": price.version, "price_version_id": price.version_id, "from": segment.start.isoformat(),
                "until": segment.end.isoformat(), "days": seg_days, "days_in_period": n_days,
                "monthly": str(price.base), "exact": str(exact)}
        lines.append(RatedLine(
            "base", f"plan:{price.plan}", _noop("Plan fee") if full else _noop("Plan fee, prorated by day"),
            Decimal(1) if full else Decimal(seg_days), "month" if full else "day",
            price.base if full else None, round_minor(exact), meta))
    return lines


def _usage_lines(inp: RatingInput, price: PriceSpec) -> list[RatedLine]:
    lines = []
    for metric in price.metrics:
        rows = [u for u in inp.usage if u.metric == metric.metric]
        if not rows:
            continue
        quantity = sum((u.quantity for u in rows), Decimal(0))
        late = sum((u.quantity for u in rows if u.adjustment), Decimal(0))
        billable = max(Decimal(0), quantity - metric.included)
        exact, line_qty, unit_price, meta = price_metric(metric, billable)
        meta = {"model": metric.model, "used": str(quantity), "included": str(metric.included),
                "billable": str(billable), "exact": str(exact), **meta}
        if late:
            meta["late_adjustments"] = str(late)
        unit = metric.unit if metric.model != "package" else f"{metric.package_size:,} {metric.unit}s"
        lines.append(RatedLine("usage", f"usage:{metric.metric}", metric.description, line_qty, unit, unit_price,
                               round_minor(exact), meta))
    return lines


def _seat_lines(inp: RatingInput, price: PriceSpec, n_days: int) -> list[RatedLine]:
    lines, on_days = [], billed_days(inp.segments)
    for seat in price.seats:
        extra_days, runs = seat_days(inp.seats, seat, on_days)
        if extra_days == 0:
            continue
        exact = prorate(seat.monthly_price, extra_days, n_days)
        lines.append(RatedLine(
            "seat", f"seat:{seat.role}", _SEAT_DESCRIPTIONS.get(seat.role, _noop("Extra seats")), Decimal(extra_days),
            "seat-day", div(seat.monthly_price, n_days).quantize(Decimal("0.0001"), rounding=ROUNDING), round_minor(exact),
            {"role": seat.role, "included": seat.included, "monthly_price": str(seat.monthly_price),
             "days_in_period": n_days, "seat_days": extra_days, "exact": str(exact), "days": runs}))
    return lines


_SEAT_DESCRIPTIONS = {"agent": _noop("Extra agent seats"), "reviewer": _noop("Extra reviewer seats"),
                      "admin": _noop("Extra admin seats")}


def _minimum_line(inp: RatingInput, price: PriceSpec, n_days: int, charged: int) -> list[RatedLine]:
    if not price.minimum:
        return []
    covered = len(billed_days(inp.segments))
    exact = price.minimum if covered == n_days else prorate(price.minimum, covered, n_days)
    minimum = round_minor(exact)
    if charged >= minimum:
        return []
    return [RatedLine("minimum", f"minimum:{price.plan}", _noop("Monthly minimum commitment top-up"), Decimal(1),
                      "month", None, minimum - charged,
                      {"minimum": minimum, "charged": charged, "days": covered, "days_in_period": n_days})]


def _annual_discount(inp: RatingInput, price: PriceSpec) -> list[RatedLine]:
    if inp.billing_cycle != "annual" or not inp.annual_term_start or price.annual_discount_pct <= 0 or price.base <= 0:
        return []
    base = mul(price.base, 12)
    amount = round_minor(div(mul(base, price.annual_discount_pct), 100))
    return [RatedLine("discount", "discount:annual_prepay", _noop("Annual prepay discount"), Decimal(1), "year",
                      None, -amount, {"percent": str(price.annual_discount_pct), "of": str(base)})]


def _coupon_lines(inp: RatingInput, remaining: int) -> list[RatedLine]:
    lines = []
    eligible = remaining
    ordered = sorted(inp.coupons, key=lambda c: (0 if c.kind == "percent" else 1))
    for coupon in ordered:
        meta = {"coupon": coupon.code, "redemption_id": coupon.redemption_id, "kind": coupon.kind,
                "eligible": eligible}
        if eligible < coupon.min_subtotal or remaining <= 0:
            continue
        if coupon.kind == "percent":
            off = round_minor(div(mul(remaining, coupon.percent_off), 100))
            meta |= {"percent": str(coupon.percent_off), "of": remaining}
        else:
            off = coupon.amount_off
        if coupon.max_discount is not None and off > coupon.max_discount:
            meta["capped_at"] = coupon.max_discount
            off = coupon.max_discount
        off = min(off, remaining)
        if off <= 0:
            continue
        remaining -= off
        lines.append(RatedLine("discount", f"coupon:{coupon.code}", _noop("Coupon"), Decimal(1), "coupon", None,
                               -off, meta))
    return lines


def _credit_line(inp: RatingInput, remaining: int) -> list[RatedLine]:
    used, grants = 0, []
    for balance in inp.credits:
        if remaining - used <= 0:
            break
        take = min(balance.remaining, remaining - used)
        if take <= 0:
            continue
        used += take
        grants.append({"grant_id": balance.grant_id, "amount": take, "balance_before": balance.remaining})
    if not used:
        return []
    return [RatedLine("credit", "credit", _noop("Prepaid credit applied"), Decimal(1), "credit", None, -used,
                      {"grants": grants, "applied": used})]
