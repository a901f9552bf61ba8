"""Soak: /decide over HTTP at ~70 % of the capacity measured in the same run, for ten minutes.

First the capacity is measured (closed loop, as many concurrent connections as gunicorn workers
× 4, for ``--probe`` seconds). Then the load runs open loop at ``--share`` of that rate in one-minute
windows; after each window the web workers' RSS and open file descriptors and the database
connections of the benchmark database are sampled. Worker recycling (``max_requests``) is turned off
so a leak shows instead of being hidden by restarts.

It passes when: 0 errors; p99 stable (the last window's p99 ≤ 2 × the first's, and ≤ 250 ms);
worker RSS flat (last ≤ first + 10 % + 8 MB, each worker); file descriptors and database
connections do not grow (last ≤ first + 2); the decisions chain verifies and every decision is
metered once.

    python -m devstack exec -- python bench/soak.py [--minutes 10] [--share 0.7] [--workers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
from pathlib import Path

from _common import (
    Connection,
    bench_database,
    cpu_steal_report,
    decide_request,
    drive,
    lending_tenant,
    pct,
    report,
    start_gunicorn,
)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def db_connections() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return cur.fetchone()[0]


async def closed_loop(port: int, key: str, concurrency: int, seconds: float) -> tuple[int, int]:
    """Requests answered and errors with ``concurrency`` clients back to back for ``seconds``."""
    payload = decide_request(key)
    deadline = asyncio.get_running_loop().time() + seconds
    done = errors = 0

    async def client():
        nonlocal done, errors
        conn = Connection(port)
        while asyncio.get_running_loop().time() < deadline:
            try:
                status = await conn.request(payload)
                errors += status != 200
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                errors += 1
                conn.writer = None
            done += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return done, errors


def sample(master: int) -> dict:
    workers = children(master)
    return {"workers": {pid: (rss_mb(pid), open_fds(pid)) for pid in workers}, "db": db_connections()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--share", type=float, default=0.7, help="share of the measured capacity to run at")
    parser.add_argument("--probe", type=float, default=15, help="seconds of the capacity measurement")
    parser.add_argument("--window", type=float, default=60, help="seconds per sampling window")
    parser.add_argument("--workers", default=os.environ.get("WEB_CONCURRENCY", "4"))
    args = parser.parse_args()
    with bench_database():
        from django.db import connections

        from billing.models import MeterEvent
        from decisions.models import DecisionRecord
        from dos import scope
        from dos.ledger import chain_verify

        org, key = lending_tenant("Bench soak", limits={"quota.decision_calls_per_day": 100_000_000,
                                                        "quota.decision_calls_per_month": 1_000_000_000})
        connections.close_all()
        server, port = start_gunicorn(workers=args.workers, extra_env={"WEB_MAX_REQUESTS": "0"})
        windows = []
        try:
            asyncio.run(drive(port, key, 50, 2))  # warm every worker
            answered, probe_errors = asyncio.run(closed_loop(port, key, int(args.workers) * 4, args.probe))
            capacity = answered / args.probe
            rate = capacity * args.share
            print(f"capacity (closed loop, {int(args.workers) * 4} clients): {capacity:.0f} req/s, "
                  f"{probe_errors} errors; soak at {rate:.0f} req/s for {args.minutes:g} min, "
                  f"{args.window:g} s windows, {args.workers} workers, worker recycling off")
            print(f"{'window':>6} {'achieved':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
                  f"{'RSS MB (max worker)':>20} {'fds (max)':>10} {'db conns':>9}")
            started = time.monotonic()
            with cpu_steal_report():
                while time.monotonic() - started < args.minutes * 60:
                    latencies, errors, elapsed = asyncio.run(drive(port, key, rate, args.window))
                    state = sample(server.pid)
                    windows.append((latencies, errors, state))
                    worst_rss = max((r for r, _ in state["workers"].values()), default=0)
                    worst_fds = max((f for _, f in state["workers"].values()), default=0)
                    print(f"{len(windows):>6} {len(latencies) / elapsed:>9.1f} {statistics.median(latencies):>8.2f} "
                          f"{pct(latencies, 99):>8.2f} {errors:>7} {worst_rss:>20.1f} {worst_fds:>10} "
                          f"{state['db']:>9}", flush=True)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        with scope.org_scope(org.id):
            verified = chain_verify(org_id=org.id, chain="decisions")
            decisions = DecisionRecord.objects.filter(org_id=org.id).count()
            metered = MeterEvent.objects.filter(org_id=org.id, metric="decision_calls").count()
        first, last = windows[0], windows[-1]
        ok = True
        ok &= report("errors (capacity probe + soak)", probe_errors + sum(w[1] for w in windows), "0",
                     probe_errors + sum(w[1] for w in windows) == 0)
        first_p99, last_p99 = pct(first[0], 99), pct(last[0], 99)
        ok &= report("p99 last window / first window", last_p99 / first_p99, "<= 2.0",
                     last_p99 <= 2 * first_p99 and last_p99 <= 250, "x")
        same = set(first[2]["workers"]) & set(last[2]["workers"])
        growth = max((last[2]["workers"][p][0] - first[2]["workers"][p][0] for p in same), default=0.0)
        flat = bool(same) and all(last[2]["workers"][p][0] <= first[2]["workers"][p][0] * 1.10 + 8 for p in same)
        ok &= report("worker RSS growth first → last window (max)", growth, "flat", flat, "MB")
        fd_growth = max((last[2]["workers"][p][1] - first[2]["workers"][p][1] for p in same), default=0)
        ok &= report("worker file descriptors growth (max)", fd_growth, "<= 2", fd_growth <= 2)
        ok &= report("database connections growth", last[2]["db"] - first[2]["db"], "<= 2",
                     last[2]["db"] - first[2]["db"] <= 2)
        ok &= report("decisions chain verifies (entries)", verified.checked, "intact", verified.ok)
        ok &= report("decisions metered once (meter events / decisions)", metered / max(decisions, 1), "1.0",
                     metered == decisions)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
