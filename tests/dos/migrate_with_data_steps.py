"""Steps of tests/dos/test_migrate_with_data.py that run in their own process against a scratch
database (DATABASE_URL): ``seed`` migrates to the schema before the sharding keys and stores rows
through the historical models; ``open-cases`` opens one case per org with today's code.
Prints JSON on stdout."""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from decimal import Decimal

import django

# The last migration of each app before the (org_id, id) keys and per-org case numbers.
BEFORE_TENANT_KEYS = {
    "tenancy": "0006_apikey_minted_by",
    "billing": "0003_meterevent_append_only",
    "decisions": "0006_simulation_checkpoint",
    "hitl": "0004_caseevent_append_only",
    "dos": "0006_outbox_delivery",
    "privacy": None,  # came later, on top of the (org_id, id) keys: not there yet
}


def platform(connection) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT set_config('dos.platform', 'on', true)")


def seed() -> dict:
    from django.db import connection, transaction
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    targets = [(app, BEFORE_TENANT_KEYS.get(app, name)) for app, name in executor.loader.graph.leaf_nodes()]
    executor.migrate(targets)
    apps = MigrationExecutor(connection).loader.project_state([t for t in targets if t[1]]).apps
    m = {name: apps.get_model(label, name) for label, name in [
        ("tenancy", "Org"), ("tenancy", "User"), ("tenancy", "Project"), ("tenancy", "Environment"),
        ("tenancy", "ApiKey"), ("decisions", "PolicySet"), ("decisions", "PolicyVersion"),
        ("decisions", "DecisionRecord"), ("hitl", "SLAPolicy"), ("hitl", "Queue"), ("hitl", "Case"),
        ("hitl", "Task"), ("hitl", "CaseEvent"), ("billing", "MeterEvent"), ("billing", "UsageAdjustment"),
        ("dos", "LedgerEntry"), ("dos", "ChainHead")]}
    now = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    seeded: dict = {"orgs": {}, "cases": []}
    with transaction.atomic():
        platform(connection)
        author = m["User"].objects.create(email="author@seed.example")
        orgs = {slug: m["Org"].objects.create(slug=slug, name=slug.title()) for slug in ("acme", "outsider")}
        for slug, org in orgs.items():
            project = m["Project"].objects.create(org=org, slug="default", name="Default")
            m["Environment"].objects.create(org=org, project=project, kind="prod")
            parent = m["ApiKey"].objects.create(org=org, project=project, name="parent", prefix=f"{slug[:4]}par",
                                                secret_hash="0" * 64)
            m["ApiKey"].objects.create(org=org, project=project, name="minted", prefix=f"{slug[:4]}min",
                                       secret_hash="1" * 64, created_by_key=parent)
            policy_set = m["PolicySet"].objects.create(org=org, project=project, name="triage")
            version = m["PolicyVersion"].objects.create(org=org, policy_set=policy_set, semver="1.0.0", source="rules: []",
                                                        sha256="a" * 64, status="published", author=author)
            decision = m["DecisionRecord"].objects.create(
                org=org, project=project, policy_version=version, policy_sha256="a" * 64, subject_token="vt_seed",
                purpose="credit", input_hash="b" * 64, snapshot={"amount": 1}, outcome="review",
                latency_ms=Decimal("1.5"), decided_at=now)
            sla = m["SLAPolicy"].objects.create(org=org, name="Standard")
            queue = m["Queue"].objects.create(org=org, name="review", sla_policy=sla, is_fallback=True)
            event = m["MeterEvent"].objects.create(org=org, project=project, ts=now, metric="decisions", value=1,
                                                   unit="call", corr_id=f"seed-{slug}", idem_key=f"seed-{slug}")
            m["UsageAdjustment"].objects.create(org=org, event=event, metric="decisions", value=1,
                                                period=dt.date(2026, 10, 1), apply_to_month=dt.date(2026, 11, 1))
            m["LedgerEntry"].objects.create(org=org, chain="seed", seq=1, action="seed", actor="system:seed",
                                            created_at=now, content_hash="c" * 64, prev_hash="0" * 64, hash="d" * 64)
            m["ChainHead"].objects.create(org=org, chain="seed", seq=1, hash="d" * 64)
            seeded["orgs"][slug] = {"id": str(org.id), "project": str(project.id), "decision": str(decision.id),
                                    "queue": str(queue.id)}
        # Numbers from the old global sequence interleave between the orgs: acme 1, outsider 2, acme 3.
        for slug in ("acme", "outsider", "acme"):
            ids = seeded["orgs"][slug]
            case = m["Case"].objects.create(org_id=ids["id"], project_id=ids["project"], decision_id=ids["decision"],
                                            queue_id=ids["queue"], source="decision")
            m["Task"].objects.create(org_id=ids["id"], case=case, kind="review")
            m["CaseEvent"].objects.create(org_id=ids["id"], case=case, kind="opened", actor="system:seed")
            seeded["cases"].append({"org": slug, "id": str(case.id), "number": case.number})
    return seeded


def open_cases(org_ids: list[str]) -> list[int]:
    from dos import scope
    from hitl.services import case_open
    from tenancy.models import Project

    numbers = []
    for org_id in org_ids:
        with scope.org_scope(uuid.UUID(org_id)):
            project = Project.objects.get(slug="default")
            numbers.append(case_open(org_id=project.org_id, project=project, source="api", actor="system:test").number)
    return numbers


if __name__ == "__main__":
    django.setup()
    step = sys.argv[1]
    if step == "seed":
        print(json.dumps(seed()))
    elif step == "open-cases":
        from django.db import transaction

        with transaction.atomic():
            print(json.dumps(open_cases(sys.argv[2:])))
    else:
        raise SystemExit(f"unknown step {step}")
