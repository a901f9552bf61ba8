"""Health checks behind /healthz, /readyz and /livez. Each returns (ok, detail)."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

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
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        try:
            client.ping()
        finally:
            client.close()

    return _timed(run)


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
        return {"ok": not in_recovery and read_only == "off", "in_recovery": in_recovery,
                "transaction_read_only": read_only}

    return _timed(run)


PROBES: dict[str, dict[str, Check]] = {
    "healthz": {"process": lambda: _timed(lambda: None)},
    "readyz": {"database": check_database, "redis": check_redis, "migrations": check_migrations},
    "livez": {"database": check_database, "write_path": check_write_path},
}


def run_probe(name: str) -> tuple[bool, dict]:
    checks = {}
    all_ok = True
    for check_name, check in PROBES[name].items():
        ok, detail = check()
        all_ok &= ok
        checks[check_name] = {"status": "ok" if ok else "fail", **detail}
    return all_ok, {"status": "ok" if all_ok else "fail", "checks": checks}
