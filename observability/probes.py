"""Health checks behind /healthz, /readyz and /livez. Each returns (ok, detail).

A probe is ``ok``, ``degraded`` or ``fail``. Only ``fail`` answers 503 (take the instance out of
rotation). Redis is a helper (docs/runbooks/degradation.md): when it is down every request is still
served — rate limits from an in-process bucket, quotas from the database, usage counters queued — so
/readyz stays 200 and says ``degraded`` with the reason. Sending the traffic elsewhere would not help:
the other instances share the same Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dos.redis_client import redis_state

Check = Callable[[], tuple[bool, dict]]
_migrations_ok_until = 0.0


def _timed(fn: Callable[[], dict | None]) -> tuple[bool, dict]:
    started = time.perf_counter()
    try:
        detail = fn() or {}
        ok = detail.pop("ok", True)
    except Exception as exc:  # noqa: BLE001 - a probe reports failures, it never raises
        ok, detail = False, {"error": f"{type(exc).__name__}: {exc}"[:300]}
    detail["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return ok, detail


def check_database() -> tuple[bool, dict]:
    def run():
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    return _timed(run)


def check_redis() -> tuple[bool, dict]:
    def run():
        timeout = max(settings.REDIS_SOCKET_TIMEOUT, 0.5)
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()

    ok, detail = _timed(run)
    state = redis_state()
    detail["breaker"] = state["breaker"]
    if not ok:
        detail["reason"] = ("Redis does not answer: rate limits use the in-process bucket, quotas the database, "
                            "usage counters are queued for replay")
    elif state["breaker"] == "open":
        detail["reason"] = f"Redis answers again; this process retries it in {state['retry_in_s']} s"
    return ok, detail


def pending_migrations() -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _backwards in plan]


def check_migrations() -> tuple[bool, dict]:
    global _migrations_ok_until
    if time.monotonic() < _migrations_ok_until:
        return True, {"pending": 0, "cached": True}

    def run():
        pending = pending_migrations()
        return {"ok": not pending, "pending": len(pending), "unapplied": pending[:20]}

    ok, detail = _timed(run)
    if ok:  # a clean state is cached briefly; a dirty one is re-checked on every call
        _migrations_ok_until = time.monotonic() + 60
    return ok, detail


def check_write_path() -> tuple[bool, dict]:
    def run():
        if settings.DOS_READ_ONLY:
            return {"ok": False, "reason": "DOS_READ_ONLY is set (maintenance)"}
        with connection.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
            in_recovery, read_only = cur.fetchone()
        detail = {"ok": not in_recovery and read_only == "off", "in_recovery": in_recovery,
                  "transaction_read_only": read_only}
        if in_recovery:
            detail["reason"] = "the database is a standby in recovery (failover in progress): writes answer 503 read_only"
        elif read_only != "off":
            detail["reason"] = "the database is read-only (default_transaction_read_only): writes answer 503 read_only"
        return detail

    return _timed(run)


PROBES: dict[str, dict[str, Check]] = {
    "healthz": {"process": lambda: _timed(lambda: None)},
    "readyz": {"database": check_database, "redis": check_redis, "migrations": check_migrations},
    "livez": {"database": check_database, "write_path": check_write_path},
}
# Checks whose failure degrades the service rather than stopping it (reported, still 200).
HELPERS: dict[str, frozenset[str]] = {"readyz": frozenset({"redis"})}


def run_probe(name: str) -> tuple[bool, dict]:
    """(serving, body): ``serving`` is False only when a check that the service cannot do without
    fails; a failed helper makes the body ``degraded`` and names the reasons."""
    checks, reasons = {}, []
    serving, degraded = True, False
    helpers = HELPERS.get(name, frozenset())
    for check_name, check in PROBES[name].items():
        ok, detail = check()
        if ok:
            status = "ok"
        elif check_name in helpers:
            status, degraded = "degraded", True
        else:
            status, serving = "fail", False
        checks[check_name] = {"status": status, **detail}
        if status != "ok":
            reasons.append(f"{check_name}: {detail.get('reason') or detail.get('error') or 'failed'}")
    body = {"status": "fail" if not serving else "degraded" if degraded else "ok", "checks": checks}
    if reasons:
        body["reasons"] = reasons
    return serving, body
