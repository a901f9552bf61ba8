"""Shared set-up for benchmarks: a throwaway database migrated from scratch, Django configured on it.

Benchmarks connect as the owning role (NOSUPERUSER NOBYPASSRLS): row-level security is forced, so
every figure includes it exactly as the application role would see it.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@contextlib.contextmanager
def bench_database():
    import psycopg

    owner_url = os.environ.get("MIGRATE_DATABASE_URL") or os.environ["DATABASE_URL"]
    base, _db = owner_url.rsplit("/", 1)
    name = f"dos_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"{base}/{name}"
    os.environ.setdefault("DJANGO_ENV", "test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "dos.settings"
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield
    finally:
        from django.db import connections

        connections.close_all()
        _drop(base, name)


def _drop(base: str, name: str) -> None:
    import psycopg

    # An autovacuum worker may still be on the database; only a superuser may terminate it, so
    # retry for a few seconds, then leave the database behind with a note rather than fail.
    for _attempt in range(10):
        try:
            with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            return
        except psycopg.errors.ObjectInUse:
            time.sleep(0.5)
    print(f"note: could not drop benchmark database {name}; drop it by hand", file=sys.stderr)


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def report(name: str, value: float, target: str, ok: bool, unit: str = "") -> bool:
    print(f"{name:<48} {value:>12.3f} {unit:<8} target {target:<10} {'OK' if ok else 'MISSED'}")
    return ok


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _cpu_times() -> list[int]:
    with open("/proc/stat") as stat:
        return [int(x) for x in stat.readline().split()[1:]]


@contextlib.contextmanager
def cpu_steal_report():
    """Print the share of CPU time the hypervisor stole during the block: on a shared VM a high
    steal share, not the code, explains a slow figure."""
    before = _cpu_times()
    try:
        yield
    finally:
        after = _cpu_times()
        delta = [a - b for a, b in zip(after, before, strict=False)]
        total = sum(delta) or 1
        steal = delta[7] if len(delta) > 7 else 0
        print(f"cpu steal during the measurement: {100 * steal / total:.0f}% of all CPU time")


def lending_tenant(name: str, *, scopes=("decisions.run",), settings: dict | None = None):
    """An enterprise org with the lending pack published by two different people, and an API key.

    Returns (org, key secret). Rate limits are lifted (and ``settings`` merged in) so the figures
    measure the work, not the org's throttle."""
    from decisions.packs.install import pack_install
    from dos import scope
    from tenancy import services
    from tenancy.models import Project
    from tenancy.principals import member_principal

    org = services.org_create(name=name, plan="enterprise", actor="system:bench")
    with scope.org_scope(org.id):
        org.settings = {"rate_limit": {"rps": 1e9, "burst": 1e9}, **(settings or {})}
        org.save(update_fields=["settings"])
        services.membership_add(org=org, email="author@bench.example", role="owner", actor="system:bench")
        services.membership_add(org=org, email="approver@bench.example", role="senior_reviewer", actor="system:bench")
        author = member_principal(org, "author@bench.example")
        approver = member_principal(org, "approver@bench.example")
        project = Project.objects.get(org=org, slug="default")
        pack_install(project=project, domain="lending_brokerage", author=author, approver=approver)
        key = services.apikey_create(project=project, name="bench", scopes=list(scopes), actor="system:bench").secret
    return org, key
