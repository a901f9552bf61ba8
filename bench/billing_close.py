"""The month close at scale: 1,000 orgs on PoV, each with 30 days of usage rollups and 7 agent seats.

In a throwaway database it subscribes ``--orgs`` orgs (PoV, billing accounts, seats), writes 30 days
of daily rollups and the monthly rollup of September 2026 for the first 100 orgs and of November
2026 for all of them, then closes the way production does: the orgs in chunks
(``billable_org_chunks``) handed to ``--workers`` billing worker processes (2: one per core), each
chunk ``month_close(org_ids=chunk)``. It times:

* the close of September for 100 orgs and of November for all ``--orgs``: wall time, and the work
  per org (the chunks' own time summed, divided by the orgs) at both sizes — the close is linear
  when the work per org does not grow with the number of orgs;
* the same November close again (idempotent: nothing changes, every draft is recognised);
* issuing the November drafts once their review window has passed (the gapless issuer-wide series
  serialises this part on purpose).

Targets: the November close of 1,000 orgs in at most 60 s (2 cores); work per org at 1,000 at most
1.5 × the work per org at 100; every invoice exactly the PoV total (12,345 calls + 7 agents:
₩623,590 with VAT) and the rerun unchanged. Exits non-zero on a miss.

    python -m devstack exec -- python bench/billing_close.py [--orgs 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import sys
import time
from decimal import Decimal

from _common import bench_database, cpu_steal_report, report

SEPTEMBER, NOVEMBER = dt.date(2026, 9, 1), dt.date(2026, 11, 1)
CLOSE_SEPTEMBER = dt.datetime(2026, 9, 30, 15, 45, tzinfo=dt.UTC)  # 1 October, 00:45 in Seoul
CLOSE_NOVEMBER = dt.datetime(2026, 11, 30, 15, 45, tzinfo=dt.UTC)
CALLS = 12_345
EXPECTED_TOTAL = 623_590
ACTOR = "system:bench.billing_close"


def _days(month: dt.date) -> list[dt.date]:
    return [month + dt.timedelta(days=i) for i in range(30)]


def seed(n_orgs: int) -> list:
    """Orgs with a PoV subscription, a billing account, 7 agent seats and usage rollups."""
    from django.db import transaction

    from billing.accounts import billing_account_update
    from billing.models import UsageDaily, UsageMonthly
    from billing.seats import seats_set
    from billing.subscriptions import subscription_start
    from dos import scope
    from dos.authz import system_actor
    from tenancy.services import org_create

    finance = system_actor("bench.finance")
    daily = [CALLS // 30 + (1 if i < CALLS % 30 else 0) for i in range(30)]  # 30 days summing to 12,345
    orgs = []
    for i in range(n_orgs):
        org = org_create(name=f"Bench Lender {i:04d}", plan="pov", slug=f"bench-{i:04d}", actor=finance)
        months = (SEPTEMBER, NOVEMBER) if i < 100 else (NOVEMBER,)
        with transaction.atomic(), scope.org_scope(org.id):
            subscription_start(org_id=org.id, plan_code="pov", actor=finance, today=SEPTEMBER)
            seats_set(org_id=org.id, role="agent", quantity=7, since=SEPTEMBER, actor=finance, reason="bench")
            billing_account_update(org_id=org.id, actor=finance, changes={
                "legal_name": f"벤치 대부 {i:04d} 주식회사", "registration_number": "2208162517",
                "contact_name": "김민준"})
            UsageDaily.objects.bulk_create([
                UsageDaily(org_id=org.id, metric="decision_calls", day=day, value=Decimal(calls), events=calls)
                for month in months for day, calls in zip(_days(month), daily, strict=True)])
            UsageMonthly.objects.bulk_create([
                UsageMonthly(org_id=org.id, metric="decision_calls", month=month, value=Decimal(CALLS), events=CALLS)
                for month in months])
        orgs.append(org)
        if (i + 1) % 250 == 0:
            print(f"  seeded {i + 1} orgs", flush=True)
    return orgs


def _worker_setup() -> None:
    import django

    django.setup()  # the parent's environment names the benchmark database


def _warm(_: int) -> None:
    """A worker's first connection and imports, before anything is timed."""
    from django.db import connection

    import billing.close  # noqa: F401

    connection.ensure_connection()


def _close_chunk(job: tuple[str, list[str]]) -> dict:
    """What one billing worker does with one chunk (billing.tasks.month_close_orgs)."""
    from billing.close import month_close

    period, org_ids = job
    month = dt.date.fromisoformat(f"{period}-01")
    now = CLOSE_SEPTEMBER if month == SEPTEMBER else CLOSE_NOVEMBER
    return month_close(month=month, actor=ACTOR, now=now, org_ids=org_ids).as_dict()


def close_on_workers(pool, month: dt.date, *, chunk: int, only: list | None = None) -> dict:
    """Close ``month`` chunk by chunk on the pool; wall time, work time (sum of the chunks' own
    seconds), orgs, drafts and failures."""
    from billing.close import billable_org_chunks

    chunks = billable_org_chunks(month, size=chunk)
    if only is not None:
        wanted = {str(o) for o in only}
        flat = [o for c in chunks for o in c if o in wanted]
        chunks = [flat[i:i + chunk] for i in range(0, len(flat), chunk)]
    started = time.perf_counter()
    results = pool.map(_close_chunk, [(f"{month:%Y-%m}", c) for c in chunks])
    wall = time.perf_counter() - started
    return {"wall": wall, "work": sum(r["seconds"] for r in results), "orgs": sum(r["orgs"] for r in results),
            "drafts": sum(r["drafts"] for r in results), "failed": {k: v for r in results for k, v in r["failed"].items()}}


def snapshot(month: dt.date) -> list[tuple]:
    from django.db import transaction

    from billing.models import Invoice
    from dos import scope

    with transaction.atomic(), scope.platform_scope(reason="bench: read the invoices"):
        return list(Invoice.objects.filter(period_start=month).order_by("org_id")
                    .values_list("org_id", "id", "status", "subtotal", "tax", "total", "updated_at"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="billing worker processes (one per core)")
    args = parser.parse_args()
    ok = True
    with bench_database(), cpu_steal_report():
        from billing.close import invoices_issue_due

        started = time.perf_counter()
        orgs = seed(args.orgs)
        print(f"seeded {len(orgs)} orgs with 30 days of rollups in {time.perf_counter() - started:.1f} s")
        from django.db import connections

        connections.close_all()  # the workers open their own
        pool = multiprocessing.get_context("spawn").Pool(args.workers, initializer=_worker_setup)
        pool.map(_warm, range(args.workers))
        small = close_on_workers(pool, SEPTEMBER, chunk=50, only=[o.id for o in orgs[:100]])
        full = close_on_workers(pool, NOVEMBER, chunk=100)
        per_small, per_full = small["work"] / max(small["orgs"], 1), full["work"] / max(full["orgs"], 1)
        for label, run, per in (("100", small, per_small), (f"{args.orgs:,}", full, per_full)):
            print(f"close of {label} orgs on {args.workers} workers: {run['wall']:.2f} s wall, "
                  f"{run['wall'] / max(run['orgs'], 1) * 1000:.2f} ms per org wall, {per * 1000:.2f} ms work per org")
        before = snapshot(NOVEMBER)
        again = close_on_workers(pool, NOVEMBER, chunk=100)
        pool.close()
        rerun = snapshot(NOVEMBER)
        print(f"close again (idempotent) of {again['orgs']} orgs: {again['wall']:.2f} s wall")
        started = time.perf_counter()
        numbers = invoices_issue_due(actor=ACTOR, now=CLOSE_NOVEMBER + dt.timedelta(days=3)).issued
        issue_seconds = time.perf_counter() - started
        print(f"issued {len(numbers)} invoices in {issue_seconds:.2f} s, "
              f"{issue_seconds / max(len(numbers), 1) * 1000:.2f} ms each ({numbers[0]} … {numbers[-1]})")
        after = snapshot(NOVEMBER)

        ok &= report(f"close {args.orgs} orgs × 30 days of rollups", full["wall"], "<= 60 s", full["wall"] <= 60, "s")
        ok &= report("work per org at 1,000 / at 100", per_full / per_small, "<= 1.5", per_full / per_small <= 1.5,
                     "x")
        ok &= report("orgs failed", len(full["failed"]) + len(small["failed"]), "0",
                     not full["failed"] and not small["failed"] and full["orgs"] == args.orgs, "orgs")
        wrong = [row for row in before if row[5] != EXPECTED_TOTAL]
        ok &= report("invoices not ₩623,590", len(wrong), "0", not wrong and len(before) == args.orgs, "invoices")
        # updated_at included: a draft whose rating did not change is not even rewritten.
        changed = sum(1 for b, r in zip(before, rerun, strict=True) if b != r)
        ok &= report("drafts changed by the second close", changed, "0",
                     changed == 0 and again["drafts"] == args.orgs and not again["failed"], "drafts")
        expected = args.orgs + min(args.orgs, 100)  # November for every org, September for the first 100
        gapless = sorted(numbers) == [f"DOS-2026-{n:06d}" for n in range(1, expected + 1)]
        ok &= report("issued numbers gapless", len(numbers), str(expected), gapless, "invoices")
        ok &= report("issued totals unchanged", sum(1 for b, a in zip(before, after, strict=True) if b[5] != a[5]),
                     "0", all(b[5] == a[5] for b, a in zip(before, after, strict=True)), "invoices")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
