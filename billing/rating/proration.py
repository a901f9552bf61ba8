"""Day proration: plan base fees by the days each price version was in force, extra seats by the
number of seats over the plan's inclusion on each day (seat-days)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from billing.money import div, mul
from billing.rating.types import PlanSegment, SeatLevel, SeatPrice


def days(start: dt.date, end: dt.date):
    day = start
    while day < end:
        yield day
        day += dt.timedelta(days=1)


def billed_days(segments: tuple[PlanSegment, ...]) -> list[dt.date]:
    return [day for segment in segments for day in days(segment.start, segment.end)]


def prorate(monthly: Decimal, units, days_in_period: int) -> Decimal:
    """``monthly × units / days_in_period`` exactly: multiply first, divide once (no early rounding)."""
    return div(mul(monthly, units), days_in_period)


def seat_counts(levels: tuple[SeatLevel, ...], role: str, on_days: list[dt.date]) -> list[int]:
    """Seats of ``role`` in force on each day: the latest level whose ``since`` is on or before it."""
    ordered = sorted((level for level in levels if level.role == role), key=lambda level: level.since)
    counts, current, index = [], 0, 0
    for day in sorted(on_days):
        while index < len(ordered) and ordered[index].since <= day:
            current = ordered[index].quantity
            index += 1
        counts.append(current)
    return counts


def seat_days(levels: tuple[SeatLevel, ...], seat: SeatPrice, on_days: list[dt.date]) -> tuple[int, list[dict]]:
    """Extra seat-days of ``seat.role`` (seats over the inclusion, summed over the days) and the runs
    of equal counts for the explanation: ``[{from, to, seats, extra}]`` with ``to`` inclusive."""
    on_days = sorted(on_days)
    counts = seat_counts(levels, seat.role, on_days)
    total, runs = 0, []
    for day, count in zip(on_days, counts, strict=True):
        extra = max(0, count - seat.included)
        total += extra
        last = runs[-1] if runs else None
        if last and last["seats"] == count and dt.date.fromisoformat(last["to"]) + dt.timedelta(days=1) == day:
            last["to"] = day.isoformat()
            last["days"] += 1
        else:
            runs.append({"from": day.isoformat(), "to": day.isoformat(), "days": 1, "seats": count, "extra": extra})
    return total, runs
