"""/decide/batch: decisions per second through the API stack (in-process WSGI, no socket), with the
decision records, the decisions chain and the meter events written; the chain is verified after.
Target (SPEC §12): ≥ 5,000 decisions/s.
"""

from __future__ import annotations

import json
import sys
import time

from _common import bench_database, cpu_steal_report, report

BATCHES = 5


def main() -> int:
    with bench_database():
        from django.test import Client

        from decisions.packs import load_pack
        from decisions.packs.install import pack_install
        from dos import scope
        from dos.ledger import chain_verify
        from tenancy import services
        from tenancy.models import Project

        org = services.org_create(name="Bench decide", plan="enterprise", actor="system:bench")
        with scope.org_scope(org.id):
            org.settings = {"rate_limit": {"rps": 1e9, "burst": 1e9}}
            org.save(update_fields=["settings"])
            author = services.membership_add(org=org, email="author@bench.example", role="owner").user
            approver = services.membership_add(org=org, email="approver@bench.example", role="senior_reviewer").user
            project = Project.objects.get(org=org, slug="default")
            pack_install(project=project, domain="lending_brokerage", author=author, approver=approver)
            key = services.apikey_create(project=project, name="bench", scopes=["decisions.run"],
                                         actor="system:bench").secret
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
