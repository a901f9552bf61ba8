"""Quotas, entitlements and the observed-usage counters (SPEC §7, §11).

Quotas come from the org's plan (``tenancy/plans.yaml``) as ``<metric>_per_<minute|day|month>``,
changed per org only by platform-approved overrides (``tenancy.plans.effective_plan``; never by
``Org.settings``, which the org edits itself). Windows are calendar windows in
Asia/Seoul. Current usage lives in Redis window counters, incremented when a meter event commits
(so a refused or rolled-back call never counts). ``quota_check`` runs *before* the work:

* over the hard limit → 429 ``usage_exceeded`` with ``Retry-After`` (seconds to the window's end);
* over the soft limit (plan ``soft_ratio`` of the hard limit) → a warning for ``X-Usage-Warning``.

The meter events in the database are the authority; a window counter in Redis is a cache of
their sum, never a tally of its own:

* a missing counter is seeded from the meter events (``SET NX``) the first time it is read, and it
  lives at most ``WINDOW_REFRESH_SECONDS`` before it is summed again, so any drift is bounded;
* a committed meter event increments the counter only if it exists (a counter that is not there
  will be summed from the database, which already holds the event);
* when Redis is slow or gone (docs/runbooks/degradation.md) ``quota_check`` sums the window's meter
  events itself, and the counters this process could not increment are remembered and *deleted*
  when Redis answers again — deleting is idempotent, so a flapping Redis can neither lose nor
  double-count usage; the next read re-sums them from the database. A process that dies holding
  that list leaves a counter low for at most ``WINDOW_REFRESH_SECONDS``.

Observed usage (``usage_observe``, for reconciliation only) is a tally: its increments that cannot
be written wait in an in-process replay queue, merged per key, until Redis answers again.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import redis
from django.db.models import Sum
from django.utils import timezone

from billing.metrics import QUOTA_REFUSALS
from billing.periods import SEOUL, day_end_utc, month_of, month_start_utc, next_month, seoul_day
from dos.errors import DomainError
from dos.redis_client import org_key, redis_client

WINDOWS = ("minute", "day", "month")
WINDOW_REFRESH_SECONDS = 600  # the longest a window counter is trusted before it is summed again

# Increment the counters that exist; leave absent ones to be seeded from the meter events.
_INCR_IF_PRESENT = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('INCRBYFLOAT', key, ARGV[i]) end
end
return 0
"""


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
    for (metric, minute), value in per_minute.items():
        for window in WINDOWS:
            label, _ends = quota_bucket(window, minute)
            key = _key(org_id, metric, window, label)
            sums[key] = sums.get(key, Decimal(0)) + value
    if stale_counters:
        usage_replay()
    try:
        _script(redis_client())(keys=list(sums), args=[str(v) for v in sums.values()])
    except redis.RedisError:  # the breaker logs the outage once; see dos.redis_client
        stale_counters.add(sums)


class StaleCounters:
    """Window counters this process could not increment: deleted when Redis answers again, so the
    next read sums them from the meter events (idempotent, unlike replaying the increments)."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[str] = set()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, keys) -> None:
        with self._lock:
            if len(self._keys) < self.MAX_KEYS:
                self._keys.update(keys)

    def take(self) -> set[str]:
        with self._lock:
            keys, self._keys = self._keys, set()
        return keys


stale_counters = StaleCounters()


@lru_cache(maxsize=4)
def _script(client):
    return client.register_script(_INCR_IF_PRESENT)


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
    if replay_queue or stale_counters:
        usage_replay()
    try:
        _incr(increments)
    except redis.RedisError:  # the breaker logs the outage once; see dos.redis_client
        replay_queue.put(increments)


def usage_replay() -> int:
    """Redis answers again: delete the window counters this process could not increment (they are
    summed afresh on their next read) and write the queued observed-usage increments. What Redis
    still cannot take is kept. Returns the number of counters written or dropped."""
    done = 0
    stale = stale_counters.take()
    if stale:
        try:
            pipe = redis_client().pipeline(transaction=False)
            for key in stale:
                pipe.delete(key)  # one key per command: an org's keys share a slot, different orgs' do not
            pipe.execute()
            done += len(stale)
        except redis.RedisError:
            stale_counters.add(stale)
    pending = replay_queue.take()
    if pending:
        try:
            _incr(pending)
            done += len(pending)
        except redis.RedisError:
            replay_queue.put(pending)
    return done


def window_usage(org_id, metric: str, window: str, now: dt.datetime) -> Decimal:
    return windows_used(org_id, metric, [window], now)[0]


def windows_used(org_id, metric: str, windows: list[str], now: dt.datetime) -> list[Decimal]:
    """Usage of each window: the Redis counter, seeded from the meter events when it is missing;
    the meter events alone when Redis does not answer."""
    buckets = [quota_bucket(window, now) for window in windows]
    keys = [_key(org_id, metric, window, label) for window, (label, _ends) in zip(windows, buckets, strict=True)]
    try:
        cached = redis_client().mget(keys)
    except redis.RedisError:  # the breaker logs the outage once; see dos.redis_client
        return [metered_usage(org_id, metric, window, now) for window in windows]
    used = []
    seeds = {}
    for window, (_label, ends), key, raw in zip(windows, buckets, keys, cached, strict=True):
        if raw is None:
            total = metered_usage(org_id, metric, window, now)
            expires = min(ends, now + dt.timedelta(seconds=WINDOW_REFRESH_SECONDS))
            seeds[key] = (total, max(int(expires.timestamp()), int(time.time()) + 1))
            used.append(total)
        else:
            used.append(_amount(raw))
    if seeds:
        try:
            pipe = redis_client().pipeline(transaction=False)
            for key, (total, expire_at) in seeds.items():
                pipe.set(key, str(total), nx=True, exat=expire_at)
            pipe.execute()
        except redis.RedisError:
            pass  # summed from the database this time; the next read tries to seed again
    return used


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
    used_by_window = windows_used(org.id, metric, [window for window, _limit in limits], now)
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
