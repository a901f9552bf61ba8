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
import os
import signal
import statistics
import sys

from _common import bench_database, cpu_steal_report, drive, lending_tenant, pct, report, start_gunicorn


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="50,100,200,400")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", default=os.environ.get("WEB_CONCURRENCY", "4"))
    args = parser.parse_args()
    with bench_database():
        from dos import scope
        from dos.ledger import chain_verify

        org, key = lending_tenant("Bench HTTP", limits={"quota.decision_calls_per_day": 10_000_000})
        from django.db import connections

        connections.close_all()
        server, port = start_gunicorn(workers=args.workers)
        try:
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
