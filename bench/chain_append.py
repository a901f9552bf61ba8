"""Ledger appends with 16 concurrent writers on one chain (worst-case contention on the head).

Each writer appends in its own transaction through dos.ledger.ledger_append, as the API does.
Writers are processes (as gunicorn and Celery workers are); `--threads` runs them as threads of one
process instead, which mostly measures Python's GIL. Afterwards the chain must verify with no gap or
fork. Target (SPEC §12): ≥ 1,000 appends/s with 16 writers, 0 forks.

Both figures are measured, not assumed: ``errors`` counts the exceptions the writers raised (sent
back from each process over a queue) plus writers that died, and ``forks`` is read from the stored
chain — entries sharing a predecessor, entries whose prev_hash is not the previous entry's hash, and
sequence gaps — so it would show a fork even if the head lock failed to serialise the writers.
"""

from __future__ import annotations

import multiprocessing
import queue
import sys
import threading
import time

from _common import bench_database, cpu_steal_report, report

WRITERS, PER_WRITER = 16, 250


def main() -> int:
    with bench_database():
        from django.db import connection

        from dos import scope
        from dos.ledger import chain_verify, ledger_append
        from dos.models import LedgerEntry
        from tenancy import services

        org = services.org_create(name="Bench ledger", plan="enterprise", actor="system:bench")
        with scope.org_scope(org.id):
            before = LedgerEntry.objects.filter(chain="audit").count()  # org_create's own entries
        use_threads = "--threads" in sys.argv
        ctx = multiprocessing.get_context("fork")
        barrier = threading.Barrier(WRITERS + 1) if use_threads else ctx.Barrier(WRITERS + 1)
        # Each writer, thread or forked process, sends back how many appends raised (and the first few).
        outcomes = queue.Queue() if use_threads else ctx.Queue()

        def writer(w: int) -> None:
            failures = []
            try:
                barrier.wait()
                for i in range(PER_WRITER):
                    try:
                        with scope.org_scope(org.id):
                            ledger_append(chain="audit", org_id=org.id, action="bench.append", actor=f"system:w{w}",
                                          data={"writer": w, "i": i})
                    except Exception as exc:  # noqa: BLE001 - counted and reported below
                        failures.append(f"{type(exc).__name__}: {exc}"[:200])
            finally:
                connection.close()
                outcomes.put((w, len(failures), failures[:5]))

        from django.db import connections

        connections.close_all()  # never share a socket with forked writers
        if use_threads:
            threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
        else:
            threads = [multiprocessing.get_context("fork").Process(target=writer, args=(w,)) for w in range(WRITERS)]
        for t in threads:
            t.start()
        with cpu_steal_report():
            barrier.wait()
            started = time.perf_counter()
            reported: dict[int, tuple[int, list[str]]] = {}
            for _ in range(WRITERS):  # drained before join: a child exits only once its queue is flushed
                try:
                    w, count, sample = outcomes.get(timeout=600)
                except queue.Empty:
                    break
                reported[w] = (count, sample)
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        total = WRITERS * PER_WRITER
        failures = [f for _count, sample in reported.values() for f in sample]
        # A writer that died (killed, or failed before its loop) sent nothing: it counts as one error.
        errors = sum(count for count, _sample in reported.values()) + (WRITERS - len(reported))
        with scope.org_scope(org.id):
            result = chain_verify(org_id=org.id, chain="audit")
            forks = _forks(org.id)
        print(f"writers: {WRITERS} {'threads' if use_threads else 'processes'}; appends: {total}; "
              f"errors: {errors}; elapsed {elapsed:.2f}s")
        for failure in failures[:5]:
            print(f"  error: {failure}")
        ok = report("appends per second", total / elapsed, ">= 1000", total / elapsed >= 1000, "/s")
        ok &= report("errors (exceptions + dead writers)", errors, "0", errors == 0)
        ok &= report("forks (shared predecessor, broken link, gap)", forks, "0", forks == 0)
        ok &= report("chain verifies (1 = yes)", 1 if result.ok else 0, "1", result.ok)
        ok &= report("entries checked", result.checked, str(before + total), result.checked == before + total)
        return 0 if ok else 1


_FORKS_SQL = """
WITH chain AS (
    SELECT seq, prev_hash, lag(hash) OVER w AS before_hash, lag(seq) OVER w AS before_seq
      FROM dos_ledgerentry WHERE org_id = %(org)s AND chain = 'audit' WINDOW w AS (ORDER BY seq)
)
SELECT (SELECT count(*) - count(DISTINCT prev_hash) FROM chain)
     + (SELECT count(*) FROM chain
         WHERE before_seq IS NOT NULL AND (prev_hash <> before_hash OR seq <> before_seq + 1))
"""


def _forks(org_id) -> int:
    """Forks as stored: two entries on one predecessor, a link to anything but the previous entry,
    or a hole in the sequence."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(_FORKS_SQL, {"org": org_id})
        return cur.fetchone()[0]


if __name__ == "__main__":
    sys.exit(main())
