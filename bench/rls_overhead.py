"""RLS overhead: a 1,000-row list query under row-level security vs the same query without it.

Two tables with identical rows and indexes: tenancy_project (RLS forced, scope set per transaction)
and an unprotected copy. The same SELECT — filtered by org as the API's base viewset does, ordered,
1,000 rows fetched — runs alternately against each; the ratio of medians is the overhead.
Target (SPEC §12): ratio ≤ 1.10.
"""

from __future__ import annotations

import sys

from _common import bench_database, cpu_steal_report, median_ms, report, timed

ROWS, REPEAT = 1000, 400


def main() -> int:
    with bench_database():
        from django.db import connection, transaction

        from dos import scope
        from tenancy import services
        from tenancy.models import Project

        orgs = [services.org_create(name=f"Bench {i}", plan="enterprise", actor="system:bench") for i in range(2)]
        for org in orgs:
            with scope.org_scope(org.id):
                Project.objects.bulk_create([Project(org=org, name=f"Project {n:05d}", slug=f"p{n:05d}")
                                             for n in range(ROWS - 1)])
        target = orgs[0]
        with transaction.atomic(), connection.cursor() as cur:
            with scope.platform_scope(reason="bench: copy rows"):
                cur.execute("CREATE TABLE bench_project_plain AS SELECT * FROM tenancy_project")
            cur.execute("CREATE UNIQUE INDEX ON bench_project_plain (org_id, slug)")
            cur.execute("CREATE INDEX ON bench_project_plain (org_id, created_at)")
            cur.execute("ANALYZE bench_project_plain")
            cur.execute("ANALYZE tenancy_project")
        sql = "SELECT id, slug, name, description, created_at, archived_at FROM {table} WHERE org_id = %s ORDER BY slug"

        def with_rls():
            with scope.org_scope(target.id), connection.cursor() as cur:
                cur.execute(sql.format(table="tenancy_project"), [target.id])
                assert len(cur.fetchall()) == ROWS

        def without_rls():
            # Same transaction shape (and the same set_config call) so only RLS differs.
            with scope.org_scope(target.id), connection.cursor() as cur:
                cur.execute(sql.format(table="bench_project_plain"), [target.id])
                assert len(cur.fetchall()) == ROWS

        for _ in range(30):  # warm caches and plans
            with_rls()
            without_rls()
        rls, plain = [], []
        with cpu_steal_report():
            for _ in range(REPEAT // 20):
                rls += timed(with_rls, 20)
                plain += timed(without_rls, 20)
        ratio = median_ms(rls) / median_ms(plain)
        print(f"rows per query: {ROWS}; samples: {len(rls)} each")
        report("median with RLS", median_ms(rls), "-", True, "ms")
        report("median without RLS", median_ms(plain), "-", True, "ms")
        ok = report("RLS overhead ratio", ratio, "<= 1.10", ratio <= 1.10)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
