"""What one decision and one review case cost the database: rows, bytes, WAL and round trips.

Runs ``--decisions`` single /decide calls through the whole API stack in-process (one database
connection, so PostgreSQL's per-backend WAL counter — pg_stat_get_backend_wal, PostgreSQL 18 —
measures exactly this work) twice: once with inputs the lending pack approves, once with inputs it
sends to review (each opens a case on the review desk). It prints the cost per decision and per case
and the projection docs/scale.md is built from: 10 / 100 / 1,000 orgs at 10k / 100k decisions per
org per day, storage per day and per retention period, average and peak write rates.

Targets: none (a model, not a gate) — it exits non-zero only if the decisions chain does not verify
or a call fails.

    python -m devstack exec -- python bench/capacity.py [--decisions 500] [--review-share 0.2]
"""

from __future__ import annotations

import argparse
import json
import sys

import redis
from _common import BODY, bench_database, lending_tenant, report

PEAK_FACTOR = 5  # business-hours peak over the daily average (Asia/Seoul lending traffic)
RETENTION_YEARS = 5  # decision records and their chain entries are kept for the credit-information retention


class RedisCalls:
    """Counts Redis round trips of this process (a pipeline is one)."""

    def __init__(self):
        self.count = 0
        self._command, self._pipeline = redis.Redis.execute_command, redis.client.Pipeline.execute

    def __enter__(self):
        outer = self

        def command(client, *args, **kwargs):
            outer.count += 1
            return outer._command(client, *args, **kwargs)

        def pipeline(pipe, *args, **kwargs):
            outer.count += 1
            return outer._pipeline(pipe, *args, **kwargs)

        redis.Redis.execute_command, redis.client.Pipeline.execute = command, pipeline
        return self

    def __exit__(self, *exc):
        redis.Redis.execute_command, redis.client.Pipeline.execute = self._command, self._pipeline


def table_state() -> dict[str, tuple[int, int]]:
    """(rows, bytes including indexes and TOAST) of every table in the public schema."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'")
        sizes = dict(cur.fetchall())
        state = {}
        for table, size in sizes.items():
            cur.execute(f'SELECT count(*) FROM "{table}"')
            state[table] = (cur.fetchone()[0], size)
    return state


def wal_bytes() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT wal_bytes FROM pg_stat_get_backend_wal(pg_backend_pid())")
        return int(cur.fetchone()[0])


def measure(client, body: dict, n: int, label: str) -> dict:
    """Run ``n`` /decide calls; their cost per call."""
    from django.db import connection

    from dos import scope

    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with scope.platform_scope(reason="capacity measurement"):
        before = table_state()
    wal_before = wal_bytes()
    with connection.execute_wrapper(count), RedisCalls() as redis_calls:
        for i in range(n):
            response = client.post("/api/v1/decide", json.dumps({**body, "subject_id": f"{label}-{i}"}),
                                   content_type="application/json")
            if response.status_code != 200:
                raise SystemExit(f"/decide answered {response.status_code}: {response.content[:300]!r}")
    wal = wal_bytes() - wal_before
    with scope.platform_scope(reason="capacity measurement"):
        after = table_state()
    rows = {t: after[t][0] - before.get(t, (0, 0))[0] for t in after if after[t][0] != before.get(t, (0, 0))[0]}
    by_table = {t: (after[t][1] - before.get(t, (0, 0))[1]) / n for t in after if t in rows}
    return {"rows": {t: r / n for t, r in sorted(rows.items())}, "bytes": sum(by_table.values()),
            "bytes_by_table": {t: round(b) for t, b in sorted(by_table.items())}, "wal": wal / n,
            "queries": statements / n, "redis": redis_calls.count / n}


def human(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(nbytes) < 1024:
            return f"{nbytes:,.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:,.1f} EB"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=500)
    parser.add_argument("--review-share", type=float, default=0.2, help="share of decisions that open a case")
    args = parser.parse_args()
    with bench_database():
        from django.db import transaction
        from django.test import Client

        from dos import scope
        from dos.ledger import chain_verify
        from hitl.desk import desk_install_defaults

        org, key = lending_tenant("Bench capacity", limits={"quota.decision_calls_per_day": 10_000_000})
        with transaction.atomic(), scope.org_scope(org.id):
            desk_install_defaults(org_id=org.id)
        client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        approve = {**BODY, "input": {**BODY["input"], "credit_score": 800, "dsr": 22.0}}
        review = {**BODY, "input": {**BODY["input"], "documents_missing": ["income_proof"]}}
        measure(client, approve, 20, "warm")
        plain = measure(client, approve, args.decisions, "approve")
        cased = measure(client, review, args.decisions, "review")
        per_case = {k: cased[k] - plain[k] for k in ("bytes", "wal", "queries", "redis")}
        print(f"per decision (approve path, {args.decisions} calls through the API stack):")
        print(f"  rows {json.dumps(plain['rows'])}")
        print(f"  bytes by table {json.dumps(plain['bytes_by_table'])}")
        print(f"  {human(plain['bytes'])} stored (tables + indexes), {human(plain['wal'])} WAL, "
              f"{plain['queries']:.1f} SQL round trips, {plain['redis']:.1f} Redis round trips")
        print("per review case on top of its decision:")
        print(f"  rows {json.dumps({t: r for t, r in cased['rows'].items() if r != plain['rows'].get(t)})}")
        print(f"  {human(per_case['bytes'])} stored, {human(per_case['wal'])} WAL, "
              f"{per_case['queries']:.1f} SQL round trips, {per_case['redis']:.1f} Redis round trips")
        share = args.review_share
        per_decision_bytes = plain["bytes"] + share * per_case["bytes"]
        per_decision_wal = plain["wal"] + share * per_case["wal"]
        per_decision_queries = plain["queries"] + share * per_case["queries"]
        print(f"\nprojection ({share:.0%} of decisions open a case; peak = {PEAK_FACTOR}× the daily average; "
              f"retention {RETENTION_YEARS} years):")
        print(f"{'orgs':>6} {'decisions/org/day':>18} {'decisions/s avg':>16} {'peak/s':>8} {'SQL stmts/s peak':>17} "
              f"{'storage/day':>12} {'WAL/day':>11} {'retained':>11}")
        for orgs in (10, 100, 1000):
            for per_org in (10_000, 100_000):
                per_day = orgs * per_org
                avg = per_day / 86_400
                print(f"{orgs:>6} {per_org:>18,} {avg:>16,.1f} {avg * PEAK_FACTOR:>8,.0f} "
                      f"{avg * PEAK_FACTOR * per_decision_queries:>17,.0f} {human(per_day * per_decision_bytes):>12} "
                      f"{human(per_day * per_decision_wal):>11} "
                      f"{human(per_day * per_decision_bytes * 365 * RETENTION_YEARS):>11}")
        with scope.org_scope(org.id):
            verified = chain_verify(org_id=org.id, chain="decisions")
        return 0 if report("decisions chain verifies (entries)", verified.checked, "intact", verified.ok) else 1


if __name__ == "__main__":
    sys.exit(main())
