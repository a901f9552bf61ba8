"""Backup and restore speed, to project the restore time (RTO ≤ 60 min, BCP/DR) for a larger database.

Seeds N decisions (default 20,000) through the batch service — decision records, the decisions
chain and meter events — then times ``backup_create`` (pg_dump + media), the restore rehearsal
(``backup_verify``: pg_restore into a scratch database, counts, chain heads, ``audit verify``) and a
restore in place (``backup_restore``: pg_restore --clean in one transaction, then the same checks),
and prints seconds, MB/s of database size and a linear projection for 100 GB.

    .venv/bin/python -m devstack exec --db-role owner -- .venv/bin/python bench/restore.py [--decisions 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from _common import bench_database, cpu_steal_report, lending_tenant, report

GB = 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dos-bench-backup-") as tmp:
        os.environ["DOS_BACKUP_DIR"] = os.path.join(tmp, "backups")
        os.environ["MEDIA_ROOT"] = os.path.join(tmp, "media")
        with bench_database():
            return run(args.decisions)


def run(decisions: int) -> int:
    from decisions.packs import load_pack
    from decisions.services import BatchItem, decision_make_many
    from dos import backup, scope
    from dos.authz import system_actor
    from tenancy.models import Project

    org, _key = lending_tenant("Bench restore")
    generator = load_pack("lending_brokerage").dataset_module()
    rows = generator.generate(1000)
    seeded = time.perf_counter()
    with scope.org_scope(org.id):
        project = Project.objects.get(org=org, slug="default")
    for batch in range(decisions // 1000):
        with scope.org_scope(org.id):
            decision_make_many(org=org, project=project, actor=system_actor("bench"), items=[
                BatchItem(subject_id=f"{batch}-{r['lead_id']}", purpose="loan_screening", data=generator.as_input(r))
                for r in rows])
    print(f"seeded {decisions} decisions in {time.perf_counter() - seeded:.1f}s")

    with cpu_steal_report():
        manifest = backup.backup_create()
        size = manifest["database_bytes"]
        dump_s = manifest["dump"]["seconds"]
        verified = backup.backup_verify(manifest["name"])["verify"]
        restored = backup.backup_restore(manifest["name"])
    rows_total = sum(manifest["tables"].values())
    restore_s = restored["seconds"]["restore"]
    total_s = restored["seconds"]["total"]
    print(f"database {size / 1e6:.1f} MB ({rows_total} rows), dump file {manifest['dump']['bytes'] / 1e6:.1f} MB")
    print(f"backup create: pg_dump {dump_s:.2f}s ({size / 1e6 / dump_s:.1f} MB/s of database)")
    print(f"verify (scratch database): pg_restore {verified['seconds']['restore']:.2f}s, counts "
          f"{verified['seconds']['counts']:.2f}s, audit verify {verified['seconds']['chains']:.2f}s")
    print(f"restore in place: pg_restore --clean {restore_s:.2f}s ({size / 1e6 / restore_s:.1f} MB/s), "
          f"checks {restored['seconds']['counts'] + restored['seconds']['chains']:.2f}s, total {total_s:.2f}s")
    per_gb_restore = restore_s / (size / GB)
    per_gb_checks = (restored["seconds"]["counts"] + restored["seconds"]["chains"]) / (size / GB)
    print(f"projection, 100 GB logical restore (linear): pg_restore {100 * per_gb_restore / 60:.0f} min, "
          f"checks {100 * per_gb_checks / 60:.0f} min")
    for problem in (verified["problems"] + restored["problems"])[:10]:
        print("problem:", problem)
    ok = report("backup verify ok (1 = yes)", 1 if verified["ok"] else 0, "1", verified["ok"])
    ok &= report("restore in place ok (1 = yes)", 1 if restored["ok"] else 0, "1", restored["ok"])
    ok &= report("restore seconds for this database", total_s, "<= 3600", total_s <= 3600, "s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
