"""Quotas, entitlements and the observed-usage counters (SPEC §7, §11).

Quotas come from the org's plan (``tenancy/plans.yaml``) as ``<metric>_per_<minute|day|month>``,
changed per org only by platform-approved overrides (``tenancy.plans.effective_plan``; never by
``Org.settings``, which the org edits itself). Windows are calendar windows in
Asia/Seoul. Current usage lives in Redis window counters, incremented when a meter event commits
(so a refused or rolled-back call never counts). ``quota_check`` runs *before* the work:

* over the hard limit → 429 ``usage_exceeded`` with ``Retry-After`` (seconds to the window's end);
* over the soft limit (plan ``soft_ratio`` of the hard limit) → a warning for ``X-Usage-Warning``.

The Redis counters are a fast copy; the meter events in the database are the authority. When Redis
is slow or gone (docs/runbooks/degradation.md) ``quota_check`` sums the window's meter events
instead, and counter increments that cannot be written (the window counters, observed usage) wait in
an in-process replay queue, merged per key, until Redis answers again. The queue lives and dies with
the process; a counter increment whose reply timed out may have been applied and is replayed as
well, so the helper counters can run a little high after a stall, never the invoices (which read
the meter events).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import redis
from django.db.models import Sum
from django.utils import timezone

from billing.metrics import QUOTA_REFUSALS
from billing.periods import SEOUL, day_end_utc, month_of, month_start_utc, next_month, seoul_day
from dos.errors import DomainError
from dos.redis_client import org_key, redis_client

WINDOWS = ("minute", "day", "month")


def quota_bucket(window: str, ts: dt.datetime) -> tuple[str, dt.datetime]:
    """(bucket label, end of the bucket in UTC) for a timestamp."""
    if window == "minute":
        start = ts.astimezone(dt.UTC).replace(second=0, microsecond=0)
        return start.strftime("%Y%m%d%H%M"), start + dt.timedelta(minutes=1)
    if window == "day":
        return seoul_day(ts).isoformat(), day_end_utc(ts)
    month = month_of(ts)
    return month.strftime("%Y-%m"), month_start_utc(next_month(month))


def quota_window_start(window: str, ts: dt.datetime) -> dt.datetime:
    if window == "minute":
        return ts.astimezone(dt.UTC).replace(second=0, microsecond=0)
    if window == "day":
        return day_end_utc(ts) - dt.timedelta(days=1)  # Asia/Seoul keeps no daylight saving
    return month_start_utc(month_of(ts))


def _amount(raw: bytes | None) -> Decimal:
    return Decimal(raw.decode()) if raw else Decimal(0)


def _key(org_id, metric: str, window: str, label: str, kind: str = "q") -> str:
    return org_key(kind, org_id, metric, window, label)


def window_counters_add(org_id, events: list[tuple[str, dt.datetime, Decimal]]) -> None:
    """Add committed usage to the quota windows (called on commit by the metering service).

    Values are summed per window bucket first: a batch of 1,000 events costs a few commands."""
    per_minute: dict[tuple[str, dt.datetime], Decimal] = {}
    for metric, ts, value in events:
        slot = (metric, ts.replace(second=0, microsecond=0))
        per_minute[slot] = per_minute.get(slot, Decimal(0)) + value
    sums: dict[str, Decimal] = {}
    expiry: dict[str, dt.datetime] = {}
    for (metric, minute), value in per_minute.items():
        for window in WINDOWS:
            label, ends = quota_bucket(window, minute)
            key = _key(org_id, metric, window, label)
            sums[key] = sums.get(key, Decimal(0)) + value
            expiry[key] = ends
    counters_incr({key: (total, int((expiry[key] + dt.timedelta(days=2)).timestamp())) for key, total in sums.items()})


class ReplayQueue:
    """Counter increments Redis could not take, merged per key, replayed when it answers again."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[Decimal, int]] = {}
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, increments: dict[str, tuple[Decimal, int]]) -> None:
        with self._lock:
            for key, (amount, expire_at) in increments.items():
                if key not in self._pending and len(self._pending) >= self.MAX_KEYS:
                    self.dropped += 1
                    continue
                held, held_expiry = self._pending.get(key, (Decimal(0), 0))
                self._pending[key] = (held + amount, max(held_expiry, expire_at))

    def take(self) -> dict[str, tuple[Decimal, int]]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending


replay_queue = ReplayQueue()


def _incr(increments: dict[str, tuple[Decimal, int]]) -> None:
    pipe = redis_client().pipeline(transaction=False)
    for key, (amount, expire_at) in increments.items():
        pipe.incrbyfloat(key, float(amount))
        pipe.expireat(key, expire_at)
    pipe.execute()


def counters_incr(increments: dict[str, tuple[Decimal, int]]) -> None:
    """Add to Redis counters ({key: (amount, expire-at unix time)}); never raises. What Redis cannot
    take now is queued, and the queue goes first the next time it answers."""
    if replay_queue:
        usage_replay()
    try:
        _incr(increments)
    except redis.RedisError:  # the breaker logs the outage once; see dos.redis_client
        replay_queue.put(increments)


def usage_replay() -> int:
    """Write the queued increments to Redis; those it still cannot take go back. Returns the number
    of counters written."""
    pending = replay_queue.take()
    if not pending:
        return 0
    try:
        _incr(pending)
    except redis.RedisError:
        replay_queue.put(pending)
        return 0
    return len(pending)


def window_usage(org_id, metric: str, window: str, now: dt.datetime) -> Decimal:
    label, _ends = quota_bucket(window, now)
    raw = redis_client().get(_key(org_id, metric, window, label))
    return _amount(raw)


def metered_usage(org_id, metric: str, window: str, now: dt.datetime) -> Decimal:
    """The window's usage from the meter events in the database (the authority; RLS-scoped)."""
    from billing.models import MeterEvent

    _label, ends = quota_bucket(window, now)
    total = MeterEvent.objects.filter(org_id=org_id, metric=metric, ts__gte=quota_window_start(window, now),
                                      ts__lt=ends).aggregate(total=Sum("value"))["total"]
    return total or Decimal(0)


def quotas_for(org) -> dict[tuple[str, str], int]:
    from tenancy.plans import effective_plan

    out = {}
    for name, limit in effective_plan(org).quotas.items():
        metric, sep, window = name.rpartition("_per_")
        if sep and window in WINDOWS and isinstance(limit, int):
            out[(metric, window)] = limit
    return out


def soft_ratio(org) -> float:
    from tenancy.plans import effective_plan

    return effective_plan(org).soft_ratio


@dataclass(frozen=True)
class QuotaStatus:
    warning: str = ""


class UsageExceeded(DomainError):
    """A hard quota is used up: 429 ``usage_exceeded`` with the seconds until it resets."""

    status, code = 429, "usage_exceeded"


class EntitlementMissing(DomainError):
    status, code = 403, "entitlement_missing"


def quota_check(*, org, metric: str, amount: Decimal | int = 1, now: dt.datetime | None = None) -> QuotaStatus:
    """Refuse (429) work that would exceed a hard quota; say so when it passes the soft one."""
    now = now or timezone.now()
    amount = Decimal(amount)
    warnings = []
    limits = [(window, limit) for (q_metric, window), limit in quotas_for(org).items() if q_metric == metric]
    if not limits:
        return QuotaStatus()
    buckets = [quota_bucket(window, now) for window, _limit in limits]
    keys = [_key(org.id, metric, window, label) for (window, _), (label, _e) in zip(limits, buckets, strict=True)]
    try:
        used_by_window = [_amount(value) for value in redis_client().mget(keys)]
    except redis.RedisError:
        used_by_window = [metered_usage(org.id, metric, window, now) for window, _limit in limits]
    ratio = soft_ratio(org)
    for (window, limit), (_label, ends), used in zip(limits, buckets, used_by_window, strict=True):
        if used + amount > limit:
            QUOTA_REFUSALS.labels(metric=metric, window=window).inc()
            retry_after = max(1, int((ends - now).total_seconds()) + 1)
            raise UsageExceeded(f"The {metric}_per_{window} quota of {limit} is used up ({used.normalize():f} used); "
                                f"it resets at {ends.astimezone(SEOUL).isoformat()}.", retry_after=retry_after,
                                quota=f"{metric}_per_{window}", limit=limit, used=f"{used.normalize():f}")
        if used + amount > limit * ratio:
            warnings.append(f"{metric}_per_{window}={(used + amount).normalize():f}/{limit}")
    return QuotaStatus(warning="; ".join(warnings))


def entitlement_require(*, org, entitlement: str) -> None:
    """403 ``entitlement_missing`` unless the org's plan (or its overrides) includes it."""
    from tenancy.plans import effective_plan

    if effective_plan(org).entitled(entitlement):
        return
    raise EntitlementMissing(f"The {org.plan} plan does not include '{entitlement}'. Upgrade the plan to use it.",
                             entitlement=entitlement)


def usage_observe(*, org_id, metric: str, amount=1, now: dt.datetime | None = None) -> None:
    """Count usage where it is served, independently of meter events, for reconciliation."""
    now = now or timezone.now()
    key = _key(org_id, metric, "day", seoul_day(now).isoformat(), kind="obs")
    counters_incr({key: (Decimal(str(amount)), int(time.time()) + 40 * 86400)})


def observed_total(org_id, metric: str, day: dt.date) -> Decimal:
    raw = redis_client().get(_key(org_id, metric, "day", day.isoformat(), kind="obs"))
    return _amount(raw)
