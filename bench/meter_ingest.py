"""Meter event ingest: events/s in batches of 1,000 with 10 % duplicates, and the final counts.

1. Through the service (billing.services.meter_record_many, one transaction per batch, as the
   decision service and connectors call it). Target (SPEC §12): ≥ 20,000 events/s.
2. Through the API stack — POST /api/v1/meter/events with an API key, every middleware, DRF,
   authentication, throttling, validation — driven in-process through Django's WSGI handler (no
   socket), so the figure is the application's cost per event.
Duplicates must never be counted twice: the stored count must equal the distinct events sent.
"""

from __future__ import annotations

import json
import sys
import time

from _common import bench_database, cpu_steal_report, report

BATCH, BATCHES, HTTP_BATCHES = 1000, 40, 10


def batches(prefix: str, count: int):
    """Each batch repeats 10 % of the previous batch's corr_ids (duplicates)."""
    out, serial = [], 0
    for b in range(count):
        fresh = BATCH if b == 0 else BATCH - BATCH // 10
        items = [{"metric": "decision_calls", "value": 1, "corr_id": f"{prefix}-{serial + i}"} for i in range(fresh)]
        if b:
            items += [{"metric": "decision_calls", "value": 1, "corr_id": f"{prefix}-{serial - 1 - i}"}
                      for i in range(BATCH // 10)]
        serial += fresh
        out.append(items)
    return out, serial


def main() -> int:
    with bench_database():
        from django.test import Client

        from billing.models import MeterEvent
        from billing.services import MeterInput, meter_record_many
        from dos import scope
        from tenancy import services

        org = services.org_create(name="Bench meter", plan="enterprise", actor="system:bench")
        with scope.org_scope(org.id):
            org.settings = {"rate_limit": {"rps": 1e9, "burst": 1e9}}
            org.save(update_fields=["settings"])

        service_batches, distinct = batches("svc", BATCHES)
        prepared = [[MeterInput(metric=i["metric"], value=i["value"], corr_id=i["corr_id"]) for i in b]
                    for b in service_batches]
        with cpu_steal_report():
            started = time.perf_counter()
            for batch in prepared:
                with scope.org_scope(org.id):
                    meter_record_many(org=org, items=batch)
            service_elapsed = time.perf_counter() - started
        with scope.org_scope(org.id):
            stored = MeterEvent.objects.filter(corr_id__startswith="svc-").count()

        with scope.org_scope(org.id):
            key = services.apikey_create(project=org_project(org), name="bench", scopes=["meter.write"],
                                         actor="system:bench").secret
        client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        http_batches, http_distinct = batches("http", HTTP_BATCHES)
        bodies = [json.dumps({"events": b}) for b in http_batches]
        with cpu_steal_report():
            started = time.perf_counter()
            for body in bodies:
                response = client.post("/api/v1/meter/events", body, content_type="application/json")
                assert response.status_code == 200, response.content[:300]
            http_elapsed = time.perf_counter() - started
        with scope.org_scope(org.id):
            http_stored = MeterEvent.objects.filter(corr_id__startswith="http-").count()

        sent = BATCH * BATCHES
        print(f"service: {sent} events sent in {BATCHES} batches, {distinct} distinct, {stored} stored, "
              f"{service_elapsed:.2f}s")
        print(f"API:     {BATCH * HTTP_BATCHES} events sent in {HTTP_BATCHES} requests, {http_distinct} distinct, "
              f"{http_stored} stored, {http_elapsed:.2f}s")
        ok = report("service ingest", sent / service_elapsed, ">= 20000", sent / service_elapsed >= 20000, "events/s")
        report("API ingest (in-process WSGI)", BATCH * HTTP_BATCHES / http_elapsed, "(no target)", True, "events/s")
        ok &= report("duplicates counted twice (service)", stored - distinct, "0", stored == distinct)
        ok &= report("duplicates counted twice (API)", http_stored - http_distinct, "0", http_stored == http_distinct)
        return 0 if ok else 1


def org_project(org):
    from tenancy.models import Project

    return Project.objects.get(org=org, slug="default")


if __name__ == "__main__":
    sys.exit(main())
