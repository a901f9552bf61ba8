"""/decide over HTTP against gunicorn at fixed request rates (open loop), then the chain is verified.

Each request is scheduled at t0 + i/rate and its latency is measured from that scheduled moment, so
time spent queueing counts (no coordinated omission). The load generator shares the 2-core machine
with gunicorn, PostgreSQL and Redis. Targets (SPEC §12): p95 ≤ 15 ms at 100 req/s; ≥ 300 req/s
sustained; 0 errors; the decisions chain intact afterwards.

    python -m devstack exec -- python bench/decide.py [--rates 50,100,200,400] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, bench_database, cpu_steal_report, lending_tenant, report

BODY = {"subject_id": "bench-lead", "purpose": "loan_screening", "input": {
    "age": 35, "income_monthly": 3500000, "dsr": 32.0, "credit_score": 720, "employment_months": 36,
    "delinquencies_12m": 0, "documents_missing": [], "consent_credit_check": True, "loan_amount": 30000000,
    "product": "personal"}}


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


async def drive(port: int, key: str, rate: int, seconds: float) -> tuple[list[float], int, float]:
    body = json.dumps(BODY).encode()
    payload = (f"POST /api/v1/decide HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="50,100,200,400")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", default=os.environ.get("WEB_CONCURRENCY", "4"))
    args = parser.parse_args()
    with bench_database():
        from dos import scope
        from dos.ledger import chain_verify

        org, key = lending_tenant("Bench HTTP", settings={"quotas": {"decision_calls_per_day": 10_000_000}})
        from django.db import connections

        connections.close_all()
        port = free_port()
        metrics_dir = Path(os.environ.get("DOS_VAR_DIR", ROOT / "var")) / "bench-prometheus"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DOS_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": args.workers, "LOG_LEVEL": "WARNING",
               "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "DJANGO_ENV": "test"}
        server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "dos/gunicorn_conf.py"),
                                   "dos.wsgi"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError(f"gunicorn did not start: {server.stderr.read().decode()[-1000:]}")
                    time.sleep(0.2)
            asyncio.run(drive(port, key, 50, 2))  # warm up every worker
            ok = True
            print(f"gunicorn workers: {args.workers}; {args.seconds:.0f} s per rate; open-loop")
            print(f"{'rate':>6} {'achieved':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
            results = {}
            with cpu_steal_report():
                for rate in [int(r) for r in args.rates.split(",")]:
                    latencies, errors, elapsed = asyncio.run(drive(port, key, rate, args.seconds))
                    achieved = len(latencies) / elapsed
                    results[rate] = (achieved, pct(latencies, 95), errors)
                    print(f"{rate:>6} {achieved:>9.1f} {statistics.median(latencies):>8.2f} {pct(latencies, 95):>8.2f} "
                          f"{pct(latencies, 99):>8.2f} {errors:>7}")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(15)
        with scope.org_scope(org.id):
            verified = chain_verify(org_id=org.id, chain="decisions")
        if 100 in results:
            ok &= report("p95 at 100 req/s", results[100][1], "<= 15", results[100][1] <= 15, "ms")
        best = max((a for a, p95, e in results.values() if e == 0), default=0)
        ok &= report("highest sustained rate without errors", best, ">= 300", best >= 300, "req/s")
        ok &= report("errors", sum(e for _, _, e in results.values()), "0", all(e == 0 for _, _, e in results.values()))
        ok &= report("decisions chain verifies (entries)", verified.checked, "intact", verified.ok)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
