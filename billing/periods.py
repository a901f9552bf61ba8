"""Billing periods are calendar months in Asia/Seoul (UTC+9, no daylight saving)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings

SEOUL = ZoneInfo("Asia/Seoul")


def seoul_day(ts: dt.datetime) -> dt.date:
    return ts.astimezone(SEOUL).date()


def month_of(ts: dt.datetime) -> dt.date:
    return seoul_day(ts).replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_start_utc(month: dt.date) -> dt.datetime:
    return dt.datetime.combine(month, dt.time(), tzinfo=SEOUL).astimezone(dt.UTC)


def month_closes_at(month: dt.date) -> dt.datetime:
    """A month closes USAGE_PERIOD_CLOSE_GRACE_DAYS after it ends (or earlier, when invoiced)."""
    return month_start_utc(next_month(month)) + dt.timedelta(days=settings.USAGE_PERIOD_CLOSE_GRACE_DAYS)


def day_end_utc(ts: dt.datetime) -> dt.datetime:
    day = seoul_day(ts)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=SEOUL).astimezone(dt.UTC)
