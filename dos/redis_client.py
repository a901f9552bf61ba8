"""One Redis connection pool per process for counters, throttling and probes.

Redis is a helper on the request path, never its single point of failure (docs/runbooks/
degradation.md). Two things keep a stalled or vanished Redis from stalling requests:

* short socket timeouts (``REDIS_SOCKET_TIMEOUT``, 0.2 s by default): a local Redis answers in well
  under a millisecond, so a call that takes longer is treated as a failure;
* a per-process circuit breaker: after a connection error or a timeout every call fails at once with
  :class:`RedisUnavailable` for ``REDIS_RETRY_SECONDS``, then the next call tries Redis again. Without
  it each request would wait out the timeout once per Redis call it makes.

Callers catch ``redis.RedisError`` (``RedisUnavailable`` is one) and fall back: the throttle to an
in-process bucket, quotas to the database, usage counters to a replay queue.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

import redis
import structlog
from django.conf import settings
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

log = structlog.get_logger(__name__)
monotonic = time.monotonic  # replaced in tests


def org_key(kind: str, org_id, *parts) -> str:
    """``dos:<kind>:{<org_id>}:<parts…>``. The braces are a Redis Cluster hash tag: every key of one
    org hashes to the same slot, so a cluster keeps an org's counters, bucket and caches on one node
    and a script or pipeline over several of them stays valid (docs/scale.md)."""
    return ":".join(["dos", kind, f"{{{org_id}}}", *(str(p) for p in parts)])


class RedisUnavailable(redis.ConnectionError):
    """Refused without trying: Redis failed moments ago and the breaker is open."""


class Breaker:
    """Open for ``retry_seconds`` after a failure; one trial call is let through after that."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open_until = 0.0
        self.last_error = ""
        self.failures = 0
        self._trial_until = 0.0

    def before(self) -> None:
        now = monotonic()
        with self._lock:
            if not self.open_until:
                return
            if now < self.open_until or now < self._trial_until:
                raise RedisUnavailable(f"Redis is unavailable ({self.last_error}); not retried before the breaker closes.")
            # Only this caller probes; the others keep failing fast until it answers (or, should it
            # never report back, until the probe's time is up).
            self._trial_until = now + 2 * settings.REDIS_SOCKET_TIMEOUT + 1

    def failed(self, exc: Exception) -> None:
        with self._lock:
            if not self.open_until:
                log.warning("redis.breaker_open", error=f"{type(exc).__name__}: {exc}"[:200],
                            retry_seconds=settings.REDIS_RETRY_SECONDS)
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            self.open_until = monotonic() + settings.REDIS_RETRY_SECONDS
            self._trial_until = 0.0

    def succeeded(self) -> None:
        if self.open_until:
            with self._lock:
                self.open_until, self.last_error, self._trial_until = 0.0, "", 0.0
            log.info("redis.breaker_closed")

    @property
    def is_open(self) -> bool:
        return bool(self.open_until)

    def reset(self) -> None:
        self.succeeded()
        self.failures = 0


breaker = Breaker()
_TRIPS = (redis.ConnectionError, redis.TimeoutError)


class _GuardedPipeline(Pipeline):
    def execute(self, raise_on_error: bool = True):
        breaker.before()
        try:
            result = super().execute(raise_on_error)
        except RedisUnavailable:
            raise
        except _TRIPS as exc:
            breaker.failed(exc)
            raise
        except redis.RedisError:
            breaker.succeeded()  # Redis answered, with an error of the command's own
            raise
        breaker.succeeded()
        return result


class GuardedRedis(redis.Redis):
    """redis.Redis whose commands, scripts and pipelines go through the breaker."""

    def execute_command(self, *args, **options):
        breaker.before()
        try:
            result = super().execute_command(*args, **options)
        except RedisUnavailable:
            raise
        except _TRIPS as exc:
            breaker.failed(exc)
            raise
        except redis.RedisError:
            breaker.succeeded()  # Redis answered, with an error of the command's own
            raise
        breaker.succeeded()
        return result

    def pipeline(self, transaction: bool = True, shard_hint=None):
        return _GuardedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


@lru_cache(maxsize=4)
def _client(url: str, timeout: float) -> redis.Redis:
    # No retries inside redis-py: a retry would double the wait the short timeout is there to cap.
    pool = redis.ConnectionPool.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                         health_check_interval=30, retry=Retry(NoBackoff(), 0))
    return GuardedRedis(connection_pool=pool, retry=Retry(NoBackoff(), 0))


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL, settings.REDIS_SOCKET_TIMEOUT)


def redis_state() -> dict:
    """What the breaker knows, for /readyz and the runbook."""
    remaining = max(0.0, breaker.open_until - monotonic()) if breaker.open_until else 0.0
    return {"breaker": "open" if breaker.is_open else "closed", "failures": breaker.failures,
            "last_error": breaker.last_error, "retry_in_s": round(remaining, 2)}
