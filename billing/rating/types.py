"""The values rating works on: a parsed price version and everything one month of one subscription
brings to it. Plain frozen dataclasses with Decimal/int fields — no models, no database, no floats —
so ``rate()`` is a pure function that tests and the month close call alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

PRICE_MODELS = ("standard", "graduated", "volume", "package")
SEAT_ROLES = ("agent", "reviewer", "admin")
LINE_KINDS = ("base", "usage", "seat", "minimum", "discount", "credit")


@dataclass(frozen=True)
class Tier:
    """Units up to and including ``up_to`` (``None``: no upper bound) at ``unit_price``; an optional
    ``flat_fee`` is charged once when the tier is reached."""

    up_to: Decimal | None
    unit_price: Decimal
    flat_fee: Decimal = Decimal(0)


@dataclass(frozen=True)
class MetricPrice:
    metric: str
    model: str                       # standard | graduated | volume | package
    unit: str                        # "call", "GB-day", "task", …
    description: str
    included: Decimal = Decimal(0)   # free units per month, consumed before any tier
    unit_price: Decimal | None = None  # standard
    tiers: tuple[Tier, ...] = ()       # graduated | volume
    package_size: Decimal | None = None  # package: units per package (e.g. 1,000 calls)
    package_price: Decimal | None = None


@dataclass(frozen=True)
class SeatPrice:
    role: str                 # agent | reviewer | admin
    included: int             # seats the plan includes
    monthly_price: Decimal    # per extra seat and month, prorated by day


@dataclass(frozen=True)
class PriceSpec:
    """One published price version of a plan (billing.pricebook parses it from the price book)."""

    plan: str
    title: str
    version: int
    version_id: int | None = None
    base: Decimal = Decimal(0)               # per month
    minimum: Decimal | None = None           # monthly minimum commitment
    annual_discount_pct: Decimal = Decimal(0)  # prepaying a year takes this off the base
    metrics: tuple[MetricPrice, ...] = ()
    seats: tuple[SeatPrice, ...] = ()
    quoted: bool = False

    @property
    def charges(self) -> bool:
        """Whether this price bills anything at all (Sandbox does not)."""
        return bool(self.base > 0 or self.minimum or self.metrics or self.seats)

    def metric(self, name: str) -> MetricPrice | None:
        return next((m for m in self.metrics if m.metric == name), None)

    def seat(self, role: str) -> SeatPrice | None:
        return next((s for s in self.seats if s.role == role), None)


@dataclass(frozen=True)
class PlanSegment:
    """Days ``[start, end)`` of the period billed under ``price`` (a plan change splits a month)."""

    price: PriceSpec
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class Usage:
    """A quantity of a metric; several rows of one metric add up (days, projects, late adjustments)."""

    metric: str
    quantity: Decimal
    day: dt.date | None = None
    adjustment: bool = False   # late usage of a closed month, billed now (billing.models.UsageAdjustment)


@dataclass(frozen=True)
class SeatLevel:
    """``quantity`` seats of ``role`` in force from ``since`` until the next level of that role."""

    role: str
    since: dt.date
    quantity: int


@dataclass(frozen=True)
class CouponGrant:
    """A redeemed coupon that applies to this period. ``min_subtotal``/``max_discount`` are the band
    limits: below ``min_subtotal`` it does not apply; a percentage never takes off more than ``max_discount``."""

    code: str
    redemption_id: int | None
    kind: str                              # percent | fixed
    percent_off: Decimal = Decimal(0)
    amount_off: int = 0
    min_subtotal: int = 0
    max_discount: int | None = None


@dataclass(frozen=True)
class CreditBalance:
    """Prepaid credit still available, consumed in the order given (soonest to expire first)."""

    grant_id: int | None
    remaining: int


@dataclass(frozen=True)
class RatingInput:
    org_id: str
    period_start: dt.date            # first day of the month (Asia/Seoul)
    period_end: dt.date              # first day of the next month (exclusive)
    segments: tuple[PlanSegment, ...]  # the billed days; trial days are not in any segment
    usage: tuple[Usage, ...] = ()
    seats: tuple[SeatLevel, ...] = ()
    coupons: tuple[CouponGrant, ...] = ()
    credits: tuple[CreditBalance, ...] = ()
    billing_cycle: str = "monthly"   # monthly | annual
    annual_term_start: bool = False  # annual: this month opens a prepaid year (base billed × 12)
    currency: str = "KRW"
    meta: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def days_in_period(self) -> int:
        return (self.period_end - self.period_start).days

    @property
    def price(self) -> PriceSpec | None:
        """The price usage, seats and the minimum are rated under: the one in force on the period's
        first billed day, or — when that day's plan charges nothing (Sandbox) — the first paid one
        after it. A plan changed during the month reprices them from the next month, so a switch
        late in the month never reprices the whole month's usage (ADR 0012, "Which price rates usage")."""
        if not self.segments:
            return None
        return next((seg.price for seg in self.segments if seg.price.charges), self.segments[0].price)
