"""Ledger appends with 16 concurrent writers on one chain (worst-case contention on the head).

Each writer appends in its own transaction through dos.ledger.ledger_append, as the API does.
Writers are processes (as gunicorn and Celery workers are); `--threads` runs them as threads of one
process instead, which mostly measures Python's GIL. Afterwards the chain must verify with no gap or
fork. Target (SPEC §12): ≥ 1,000 appends/s with 16 writers, 0 forks.
"""

from __future__ import annotations

import multiprocessing
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
            before = LedgerEntry.objects.filter(chain="audit").count()
        use_threads = "--threads" in sys.argv
        barrier = threading.Barrier(WRITERS + 1) if use_threads else multiprocessing.get_context("fork").Barrier(WRITERS + 1)
        errors: list[Exception] = []

        def writer(w: int) -> None:
            try:
                barrier.wait()
                for i in range(PER_WRITER):
                    with scope.org_scope(org.id):
                        ledger_append(chain="audit", org_id=org.id, action="bench.append", actor=f"system:w{w}",
                                      data={"writer": w, "i": i})
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

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
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        total = WRITERS * PER_WRITER
        with scope.org_scope(org.id):
            result = chain_verify(org_id=org.id, chain="audit")
            seqs = list(LedgerEntry.objects.filter(chain="audit").values_list("seq", flat=True))
        forks = len(seqs) - len(set(seqs))
        failed = [t for t in threads if getattr(t, "exitcode", 0)]
        print(f"writers: {WRITERS} {'threads' if use_threads else 'processes'}; appends: {total}; "
              f"errors: {len(errors) + len(failed)}; elapsed {elapsed:.2f}s")
        ok = report("appends per second", total / elapsed, ">= 1000", total / elapsed >= 1000, "/s")
        ok &= report("forks (duplicate seq)", forks, "0", forks == 0)
        ok &= report("chain verifies (1 = yes)", 1 if result.ok else 0, "1", result.ok and not errors and not failed)
        ok &= report("entries checked", result.checked, str(before + total), result.checked == before + total)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
