"""Per-org token bucket in Redis (rate and burst from the plan and its platform-approved overrides).

Each org has its own bucket, so one noisy org cannot slow another. The refill clock is passed in
(``now``), which keeps the bucket deterministic under test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from rest_framework.throttling import BaseThrottle

from billing.metrics import THROTTLED
from dos.redis_client import redis_client

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


@lru_cache(maxsize=4)
def _script(client):
    return client.register_script(_LUA)  # EVALSHA, falling back to EVAL once per server


def bucket_take(*, org_id, rate: float, burst: float, cost: float = 1.0, now: float | None = None) -> Take:
    script = _script(redis_client())
    allowed, wait = script(keys=[f"dos:tb:{org_id}"], args=[rate, burst, clock() if now is None else now, cost])
    return Take(allowed=bool(int(allowed)), wait=float(wait))


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
        self._wait = take.wait
        if not take.allowed:
            THROTTLED.inc()
        return take.allowed

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
