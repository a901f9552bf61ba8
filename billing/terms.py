"""Prepaid years and cheaper plans: the rules a subscription change is held to (ADR 0012).

A prepaid (annual) year runs twelve months from ``Subscription.annual_term_start``; its fee is billed
in the month that opens it. A tenant changes it only at its end; platform finance may change it
earlier, and then the unused whole months of what was paid come back as prepaid credit. A move to a
plan that charges less (a lower monthly fee or minimum, or nothing) is a downgrade: tenants make it
at the period end only.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from billing import credits
from billing.models import BillingCycle, PriceVersion, Subscription
from billing.money import round_minor
from billing.periods import next_month
from billing.pricebook import price_spec


def months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def annual_term_opens(subscription: Subscription, month: dt.date) -> bool:
    """Whether ``month`` opens a prepaid year of ``subscription`` (its fee is billed × 12 then)."""
    first = subscription.annual_term_start
    if subscription.billing_cycle != BillingCycle.ANNUAL or first is None or month < first:
        return False
    return months_between(first, month) % 12 == 0


def annual_term_end(subscription: Subscription, on: dt.date) -> dt.date | None:
    """For an annual subscription whose prepaid year is still running on ``on``: the first day after
    that year. ``None`` when it is not annual or ``on`` is a term boundary (a change may start there)."""
    first = subscription.annual_term_start
    if subscription.billing_cycle != BillingCycle.ANNUAL or first is None or on <= first:
        return None
    used = months_between(first, on) % 12
    if used == 0:
        return None
    end = on.replace(day=1)
    for _ in range(12 - used):
        end = next_month(end)
    return end


def is_downgrade(current: PriceVersion, target: PriceVersion) -> bool:
    """Whether ``target`` charges less than ``current``: a lower monthly fee or minimum, or nothing at all."""
    now_spec, new_spec = price_spec(current), price_spec(target)
    if not new_spec.charges:
        return now_spec.charges
    return (new_spec.base < now_spec.base) or ((new_spec.minimum or 0) < (now_spec.minimum or 0))


def unused_prepay(subscription: Subscription, on: dt.date) -> tuple[int, int]:
    """``(unused months, won)`` of the prepaid year running on ``on``: the whole months left of it and
    that share of what was paid (the year's fee after the annual discount, rounded half up). ``(0, 0)``
    at a term boundary or when the subscription is monthly."""
    first = subscription.annual_term_start
    if annual_term_end(subscription, on) is None:
        return 0, 0
    unused = 12 - months_between(first, on) % 12
    spec = price_spec(subscription.price_version)
    paid = spec.base * 12 * (100 - spec.annual_discount_pct) / 100
    return unused, round_minor(paid * unused / Decimal(12))


def unused_prepay_credit(subscription: Subscription, on: dt.date, *, actor) -> int:
    """A prepaid year left on ``on``, before its end: its unused months (``unused_prepay``) are granted
    back as prepaid credit (``source="annual_term"``). Returns the won granted."""
    unused, amount = unused_prepay(subscription, on)
    if amount > 0:
        first, spec = subscription.annual_term_start, price_spec(subscription.price_version)
        credits.credit_grant(org_id=subscription.org_id, amount=amount, actor=actor, source="annual_term",
                             source_ref=f"subscription:{subscription.pk}:{first.isoformat()}",
                             reason=f"Unused {unused} of 12 prepaid months of {spec.plan} (year from "
                                    f"{first:%Y-%m}) after a plan change on {on:%Y-%m-%d}")
    return amount
