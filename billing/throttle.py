"""Per-org token bucket in Redis (rate and burst from the plan and its platform-approved overrides).

Each org has its own bucket, so one noisy org cannot slow another. The refill clock is passed in
(``now``), which keeps the bucket deterministic under test.

When Redis is slow or gone the limit fails open to an in-process bucket with the same rate and burst
(docs/runbooks/degradation.md). It is per process: with N web processes an org may be admitted up to
N times its rate while Redis is down. That is the documented price of not refusing every call
because a helper is unavailable; hard quotas still hold, since they fall back to the database.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from rest_framework.throttling import BaseThrottle

from billing.metrics import THROTTLED
from billing.quotas import replay_queue, stale_counters, usage_replay
from dos.redis_client import org_key, redis_client

_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return {allowed, tostring(wait)}
"""

clock = time.time  # replaced in tests


@dataclass(frozen=True)
class Take:
    allowed: bool
    wait: float
    local: bool = True  # decided by this process's fallback bucket (Redis did not answer)


@lru_cache(maxsize=4)
def _script(client):
    return client.register_script(_LUA)  # EVALSHA, falling back to EVAL once per server


class LocalBuckets:
    """The fallback: the same token bucket, held in this process (one lock; a few µs per take)."""

    MAX_ORGS = 10_000  # bounded: the oldest bucket is forgotten first (it would be full by now anyway)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, *, org_id, rate: float, burst: float, cost: float, now: float) -> Take:
        key = str(org_id)
        with self._lock:
            tokens, ts = self._state.pop(key, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - ts) * rate)
            if tokens >= cost:
                tokens, take = tokens - cost, Take(allowed=True, wait=0.0)
            else:
                take = Take(allowed=False, wait=(cost - tokens) / rate)
            self._state[key] = (tokens, now)
            if len(self._state) > self.MAX_ORGS:
                self._state.pop(next(iter(self._state)))
        return take

    def clear(self) -> None:
        with self._lock:
            self._state.clear()


local_buckets = LocalBuckets()


def bucket_take(*, org_id, rate: float, burst: float, cost: float = 1.0, now: float | None = None) -> Take:
    now = clock() if now is None else now
    try:
        script = _script(redis_client())
        allowed, wait = script(keys=[org_key("tb", org_id)], args=[rate, burst, now, cost])
    except redis.RedisError:  # the breaker logs the outage once; see dos.redis_client
        return local_buckets.take(org_id=org_id, rate=rate, burst=burst, cost=cost, now=now)
    return Take(allowed=bool(int(allowed)), wait=float(wait), local=False)


def rate_limit_for(org) -> tuple[float, float]:
    from tenancy.plans import effective_plan

    limits = effective_plan(org).rate_limit
    return float(limits.get("rps", 20)), float(limits.get("burst", 40))


class OrgTokenBucketThrottle(BaseThrottle):
    """DRF throttle for every API view: 429 with Retry-After when the org's bucket is empty."""

    def allow_request(self, request, view) -> bool:
        org = getattr(request.auth, "org", None)
        if org is None:
            return True
        rate, burst = rate_limit_for(org)
        take = bucket_take(org_id=org.id, rate=rate, burst=burst)
        if (replay_queue or stale_counters) and not take.local:
            # Redis answers again: what this process owes its counters from the outage (stale
            # window counters to drop, observed usage to add) goes now, on whatever request comes
            # first, not only on the next counter write.
            usage_replay()
        self._wait = take.wait
        if not take.allowed:
            THROTTLED.inc()
        return take.allowed

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
