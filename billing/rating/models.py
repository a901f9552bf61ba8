"""The four price models as exact functions of a quantity: standard, graduated, volume, package.

Each returns the exact (unrounded) amount and a JSON-safe explanation; the line is rounded once by
the caller. Tier bounds are inclusive upper bounds: with tiers ``up_to 100,000`` / ``up_to
1,000,000`` / no bound, unit 100,000 is the last of the first tier and unit 100,001 the first of
the second (graduated), and a total of 100,001 prices every unit at the second tier (volume).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from billing.money import CONTEXT, mul
from billing.rating.types import MetricPrice, Tier

ZERO = Decimal(0)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def graduated(quantity: Decimal, tiers: tuple[Tier, ...]) -> tuple[Decimal, list[dict]]:
    """Each unit at the price of the tier it falls in; ``flat_fee`` once per tier entered."""
    total, lower, crossed = ZERO, ZERO, []
    for tier in tiers:
        if quantity <= lower:
            break
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        units = upper - lower
        amount = CONTEXT.add(mul(units, tier.unit_price), tier.flat_fee)
        total = CONTEXT.add(total, amount)
        crossed.append({"above": str(lower), "up_to": _s(tier.up_to), "quantity": str(units), "unit_price": str(tier.unit_price),
                        "flat_fee": str(tier.flat_fee), "amount": str(amount)})
        if tier.up_to is None:
            break
        lower = tier.up_to
    return total, crossed


def volume_tier(quantity: Decimal, tiers: tuple[Tier, ...]) -> tuple[int, Tier]:
    for index, tier in enumerate(tiers):
        if tier.up_to is None or quantity <= tier.up_to:
            return index, tier
    return len(tiers) - 1, tiers[-1]


def volume(quantity: Decimal, tiers: tuple[Tier, ...]) -> tuple[Decimal, list[dict]]:
    """Every unit at the price of the tier the total falls in (plus that tier's flat fee)."""
    if quantity <= 0:
        return ZERO, []
    index, tier = volume_tier(quantity, tiers)
    amount = CONTEXT.add(mul(quantity, tier.unit_price), tier.flat_fee)
    return amount, [{"tier": index + 1, "up_to": _s(tier.up_to), "quantity": str(quantity),
                     "unit_price": str(tier.unit_price), "flat_fee": str(tier.flat_fee), "amount": str(amount)}]


def packages(quantity: Decimal, size: Decimal) -> Decimal:
    """Whole packages needed for ``quantity`` (a started package is a package)."""
    if quantity <= 0:
        return ZERO
    return CONTEXT.divide(quantity, size).to_integral_value(rounding=ROUND_CEILING)


def price_metric(price: MetricPrice, billable: Decimal) -> tuple[Decimal, Decimal, Decimal | None, dict]:
    """(exact amount, line quantity, line unit price, meta) for ``billable`` units after inclusions."""
    if price.model == "standard":
        return mul(billable, price.unit_price), billable, price.unit_price, {}
    if price.model == "graduated":
        amount, crossed = graduated(billable, price.tiers)
        return amount, billable, None, {"tiers": crossed}
    if price.model == "volume":
        amount, crossed = volume(billable, price.tiers)
        unit_price = volume_tier(billable, price.tiers)[1].unit_price if billable > 0 else None
        return amount, billable, unit_price, {"tiers": crossed}
    if price.model == "package":
        count = packages(billable, price.package_size)
        return (mul(count, price.package_price), count, price.package_price,
                {"package_size": str(price.package_size), "units": str(billable)})
    raise ValueError(f"Unknown price model '{price.model}'")
