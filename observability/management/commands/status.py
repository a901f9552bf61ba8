from __future__ import annotations

import platform
import time

import django
from django.conf import settings
from django.db import connection

from dos.db_role import current_role
from dos.management.base import DosCommand


def _check(fn):
    started = time.perf_counter()
    try:
        out = fn()
        out.setdefault("ok", True)
    except Exception as exc:  # noqa: BLE001 - status reports, never crashes
        out = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    out["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return out


def _database():
    role = current_role()
    with connection.cursor() as cur:
        cur.execute("SELECT current_database(), current_setting('server_version')")
        db, version = cur.fetchone()
    return {"ok": role.safe, "role": role.name, "superuser": role.superuser,
            "bypassrls": role.bypassrls, "database": db, "server_version": version}


def _migrations():
    from observability.probes import pending_migrations

    pending = pending_migrations()
    return {"ok": not pending, "pending": pending}


def _redis():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    client.ping()
    from observability.services import beat_heartbeat_last

    return {"ping": "pong", "beat_heartbeat": beat_heartbeat_last()}


def _celery(timeout: float):
    from celery_app import app

    replies = app.control.ping(timeout=timeout) or []
    workers = sorted(name for reply in replies for name in reply)
    return {"ok": bool(workers), "workers": workers}


class Command(DosCommand):
    help = "Show versions, the database role (must be neither superuser nor bypassrls), migrations, Redis and Celery."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--celery-timeout", type=float, default=1.5,
                            help="seconds to wait for worker pings (default 1.5)")

    def handle(self, *args, **options):
        report = {
            "versions": {"decisionos": settings.DOS_VERSION, "django": django.get_version(),
                         "python": platform.python_version()},
            "environment": settings.DJANGO_ENV,
            "database": _check(_database),
            "migrations": _check(_migrations),
            "redis": _check(_redis),
            "celery": _check(lambda: _celery(options["celery_timeout"])),
        }
        report["ok"] = all(report[k]["ok"] for k in ("database", "migrations", "redis", "celery"))
        self.emit(options, report, _human)
        if not report["ok"]:
            raise SystemExit(1)


def _human(r: dict) -> str:
    def mark(ok):
        return "ok  " if ok else "FAIL"

    db, mig, rd, ce = r["database"], r["migrations"], r["redis"], r["celery"]
    lines = [
        f"DecisionOS {r['versions']['decisionos']} · Django {r['versions']['django']} · "
        f"Python {r['versions']['python']} · env {r['environment']}",
        f"[{mark(db['ok'])}] database   " + (
            f"role {db['role']} (superuser={db['superuser']}, bypassrls={db['bypassrls']}) "
            f"on {db['database']}, PostgreSQL {db['server_version']}" if "role" in db else db.get("error", "")),
        f"[{mark(mig['ok'])}] migrations " + (
            "all applied" if mig.get("ok") else f"pending: {', '.join(mig.get('pending', [])) or mig.get('error')}"),
        f"[{mark(rd['ok'])}] redis      " + (
            f"pong in {rd['latency_ms']} ms; last beat heartbeat {rd.get('beat_heartbeat') or 'never'}"
            if rd["ok"] else rd.get("error", "")),
        f"[{mark(ce['ok'])}] celery     " + (
            ", ".join(ce.get("workers", [])) or ce.get("error") or "no worker answered"),
    ]
    return "\n".join(lines)
