"""/decide/batch: decisions per second through the API stack (in-process WSGI, no socket), with the
decision records, the decisions chain and the meter events written; the chain is verified after.
Target (SPEC §12): ≥ 5,000 decisions/s.
"""

from __future__ import annotations

import json
import sys
import time

from _common import bench_database, cpu_steal_report, lending_tenant, report

BATCHES = 5


def main() -> int:
    with bench_database():
        from django.test import Client

        from decisions.packs import load_pack
        from dos import scope
        from dos.ledger import chain_verify

        org, key = lending_tenant("Bench decide")
        generator = load_pack("lending_brokerage").dataset_module()
        rows = generator.generate(1000)
        bodies = [json.dumps({"items": [{"subject_id": f"{b}-{r['lead_id']}", "purpose": "loan_screening",
                                         "input": generator.as_input(r)} for r in rows]}) for b in range(BATCHES)]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        client.post("/api/v1/decide/batch", json.dumps({"items": json.loads(bodies[0])["items"][:50]}),
                    content_type="application/json")  # warm up
        with cpu_steal_report():
            started = time.perf_counter()
            for body in bodies:
                response = client.post("/api/v1/decide/batch", body, content_type="application/json")
                assert response.status_code == 200 and response.json()["decided"] == 1000, response.content[:300]
            elapsed = time.perf_counter() - started
        with scope.org_scope(org.id):
            verified = chain_verify(org_id=org.id, chain="decisions")
        decisions = BATCHES * 1000
        print(f"{decisions} decisions in {BATCHES} requests of 1,000: {elapsed:.2f}s")
        ok = report("/decide/batch decisions per second", decisions / elapsed, ">= 5000", decisions / elapsed >= 5000, "/s")
        ok &= report("decisions chain verifies (1 = yes)", 1 if verified.ok else 0, "1", verified.ok)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
