"""Price specs and inputs for the rating tests, built through the price book's own parser (the same
path the month close takes), with the launch prices of billing/migrations/0009_seed_price_book.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from billing.pricebook import parse_spec
from billing.rating import PlanSegment, RatingInput, SeatLevel, Usage

NOV = dt.date(2026, 11, 1)
DEC = dt.date(2026, 12, 1)
TIERS = [{"up_to": "100000", "unit_price": "20"}, {"up_to": "1000000", "unit_price": "15"},
         {"up_to": None, "unit_price": "10"}]

POV = parse_spec({"base": "300000", "annual_discount_pct": "10",
                  "metrics": {"decision_calls": {"model": "standard", "unit_price": "20"}},
                  "seats": {"agent": {"included": 5, "monthly_price": "10000"}}},
                 plan="pov", title="PoV", version=1, version_id=2)


def spec(plan: str = "test", **raw):
    return parse_spec(raw, plan=plan, title=plan.title(), version=1, version_id=99)


def month_input(price, *, usage=(), seats=(), coupons=(), credits=(), start=NOV, end=DEC, segments=None,
                **kwargs) -> RatingInput:
    usage = tuple(u if isinstance(u, Usage) else Usage(u[0], Decimal(u[1])) for u in usage)
    seats = tuple(s if isinstance(s, SeatLevel) else SeatLevel(*s) for s in seats)
    return RatingInput(org_id="00000000-0000-0000-0000-000000000001", period_start=start, period_end=end,
                       segments=segments if segments is not None else (PlanSegment(price, start, end),), usage=usage, seats=seats,
                       coupons=tuple(coupons), credits=tuple(credits), **kwargs)
