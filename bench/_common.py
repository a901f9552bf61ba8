"""Shared set-up for benchmarks: a throwaway database migrated from scratch, Django configured on it.

Benchmarks connect as the owning role (NOSUPERUSER NOBYPASSRLS): row-level security is forced, so
every figure includes it exactly as the application role would see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
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
    app_base, _db = os.environ["DATABASE_URL"].rsplit("/", 1)
    name = f"dos_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"{base}/{name}"
    # Servers the benchmark starts (gunicorn) connect as the application role, as in production.
    os.environ["DOS_BENCH_APP_DATABASE_URL"] = f"{app_base}/{name}"
    os.environ.setdefault("DJANGO_ENV", "test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "dos.settings"
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from devstack.postgres import grant_app_role

        with psycopg.connect(f"{base}/{name}", autocommit=True) as owner:
            grant_app_role(owner, name)
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


def lending_tenant(name: str, *, scopes=("decisions.run",), limits: dict | None = None):
    """An enterprise org with the lending pack published by two different people, and an API key.

    Returns (org, key secret). The rate limit is lifted (and ``limits`` — plan override keys such as
    ``quota.decision_calls_per_day`` — applied) by platform-approved overrides, the only way limits
    change, so the figures measure the work, not the org's throttle."""
    from django.contrib.auth import get_user_model

    from decisions.packs.install import pack_install
    from dos import scope
    from dos.authz import system_actor
    from privacy.settings import privacy_settings_save
    from tenancy import services
    from tenancy.models import Project
    from tenancy.overrides import plan_override_set
    from tenancy.principals import member_principal

    org = services.org_create(name=name, plan="enterprise", actor="system:bench")
    approver = get_user_model().objects.create_superuser(email=f"platform-{uuid.uuid4().hex[:8]}@bench.example")
    for key, value in {"rate_limit.rps": 1e9, "rate_limit.burst": 1e9, **(limits or {})}.items():
        plan_override_set(org=org, key=key, value=value, reason="benchmark", actor=approver)
    with scope.org_scope(org.id):
        services.membership_add(org=org, email="author@bench.example", role="owner", actor="system:bench")
        services.membership_add(org=org, email="approver@bench.example", role="senior_reviewer", actor="system:bench")
        author = member_principal(org, "author@bench.example")
        approver = member_principal(org, "approver@bench.example")
        project = Project.objects.get(org=org, slug="default")
        pack_install(project=project, domain="lending_brokerage", author=author, approver=approver)
        # Screening rests on the loan contract (PIPA Art. 15(1)4): the consent check runs its one
        # statement on every call and finds the configured basis.
        privacy_settings_save(org_id=org.id, actor=system_actor("bench"), lawful_bases={"loan_screening": "contract"})
        key = services.apikey_create(project=project, name="bench", scopes=list(scopes), actor="system:bench").secret
    return org, key


# -- HTTP load against gunicorn (bench/decide.py, bench/soak.py) -----------------------------------

BODY = {"subject_id": "bench-lead", "purpose": "loan_screening", "input": {
    "age": 35, "income_monthly": 3500000, "dsr": 32.0, "credit_score": 720, "employment_months": 36,
    "delinquencies_12m": 0, "documents_missing": [], "consent_credit_check": True, "loan_amount": 30000000,
    "product": "personal"}}


def start_gunicorn(*, workers: str, extra_env: dict | None = None) -> tuple[subprocess.Popen, int]:
    """gunicorn with the product's configuration on a free port, serving the benchmark database."""
    port = free_port()
    metrics_dir = Path(os.environ.get("DOS_VAR_DIR", ROOT / "var")) / "bench-prometheus"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DOS_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers), "LOG_LEVEL": "WARNING",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "DJANGO_ENV": "test",
           "DATABASE_URL": os.environ.get("DOS_BENCH_APP_DATABASE_URL", os.environ["DATABASE_URL"]), **(extra_env or {})}
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "dos/gunicorn_conf.py"),
                               "dos.wsgi"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server, port
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(f"gunicorn did not start: {server.stderr.read().decode()[-1000:]}") from None
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Connection:
    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def request(self, payload: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(payload)
        await self.writer.drain()
        status_line = await self.reader.readline()
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            lower = line.lower()
            if lower.startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            elif lower.startswith(b"connection:") and b"close" in lower:
                close = True  # gunicorn's sync workers answer one request per connection
        await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.reader = self.writer = None
        return int(status_line.split()[1])


def decide_request(key: str) -> bytes:
    """One raw HTTP/1.1 POST /api/v1/decide with ``BODY`` and the key."""
    body = json.dumps(BODY).encode()
    return (f"POST /api/v1/decide HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def drive(port: int, key: str, rate: float, seconds: float) -> tuple[list[float], int, float]:
    payload = decide_request(key)
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(Connection(port))
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int):
        nonlocal errors
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        conn = await pool.get()
        try:
            status = await conn.request(payload)
            if status != 200:
                errors += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            errors += 1
            conn.writer = None
        finally:
            pool.put_nowait(conn)
        latencies.append((loop.time() - scheduled) * 1000)

    await asyncio.gather(*(one(i) for i in range(total)))
    elapsed = loop.time() - start
    return latencies, errors, elapsed


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


