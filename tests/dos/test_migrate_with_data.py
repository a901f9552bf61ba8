"""The migrations to (org_id, id) keys and per-org case numbers run forward on a database that
already holds data: a scratch database is migrated to the schema before them, seeded through the
historical models (tests/dos/migrate_with_data_steps.py), then migrated to the latest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
STEPS = "tests.dos.migrate_with_data_steps"
COUNTED = ["tenancy_org", "tenancy_project", "tenancy_environment", "tenancy_apikey", "decisions_policyset",
           "decisions_policyversion", "decisions_decisionrecord", "hitl_queue", "hitl_case", "hitl_task",
           "hitl_caseevent", "billing_meterevent", "billing_usageadjustment", "dos_ledgerentry", "dos_chainhead"]
TRIGGERS_SQL = ("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid::regclass::text = ANY(%s) ORDER BY 1, 2")


def run(env: dict, *args: str) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture
def scratch():
    settings_dict = connection.settings_dict
    base = (f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD']}@{settings_dict['HOST']}:"
            f"{settings_dict['PORT']}")
    name = f"dos_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}", {**os.environ, "DATABASE_URL": f"{base}/{name}", "DJANGO_ENV": "test"}
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def platform_read(url: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT set_config('dos.platform', 'on', true)")
        cur.execute(sql, params)
        return cur.fetchall()


def counts(url: str) -> dict[str, int]:
    return {table: platform_read(url, f"SELECT count(*) FROM {table}")[0][0] for table in COUNTED}


@pytest.mark.django_db(transaction=True)
def test_a_seeded_database_migrates_forward_and_keeps_its_rows_keys_and_rules(scratch):
    url, env = scratch
    seeded = json.loads(run(env, "-m", STEPS, "seed"))
    assert [c["number"] for c in seeded["cases"]] == [1, 2, 3]  # one global sequence, interleaved
    before = counts(url)
    assert all(before.values()), before
    triggers = platform_read(url, TRIGGERS_SQL, [COUNTED])
    assert triggers, "the append-only triggers are in place before"

    run(env, "manage.py", "migrate", "--no-input")

    # Rows intact, case numbers unchanged; the append-only triggers survived the key swap. The only
    # new rows: each org kept in consent mode 'monitor' (privacy 0006), one audit entry each saying so.
    orgs = before["tenancy_org"]
    after = counts(url)
    assert {**after, "dos_ledgerentry": after["dos_ledgerentry"] - orgs} == {
        **before, "dos_chainhead": after["dos_chainhead"]}
    modes = platform_read(url, "SELECT s.consent_mode, count(e.id) FROM privacy_privacysettings s "
                               "JOIN dos_ledgerentry e ON e.org_id = s.org_id AND e.action = 'privacy_settings.saved' "
                               "GROUP BY 1")
    assert modes == [("monitor", orgs)]
    numbers = platform_read(url, "SELECT id::text, number FROM hitl_case")
    assert sorted(numbers) == sorted((c["id"], c["number"]) for c in seeded["cases"])
    assert platform_read(url, TRIGGERS_SQL, [COUNTED]) == triggers

    # Keys: (org_id, id) primary keys, composite foreign keys.
    pk = platform_read(url, "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                            "WHERE conrelid = 'hitl_case'::regclass AND contype = 'p'")
    assert pk == [("PRIMARY KEY (org_id, id)",)]

    # Foreign keys are still enforced — an orphan, and a reference into another org, both refused.
    acme, outsider = seeded["orgs"]["acme"], seeded["orgs"]["outsider"]
    acme_case = next(c["id"] for c in seeded["cases"] if c["org"] == "acme")
    for org, case_id in ((acme["id"], str(uuid.uuid4())), (outsider["id"], acme_case)):
        with pytest.raises(psycopg.errors.ForeignKeyViolation), psycopg.connect(url) as conn:
            conn.execute("SELECT set_config('dos.platform', 'on', true)")
            conn.execute("INSERT INTO hitl_task (id, org_id, case_id, kind, status, payload, created_at, updated_at) "
                         "VALUES (gen_random_uuid(), %s, %s, 'review', 'ready', '{}', now(), now())", [org, case_id])

    # Case numbering continues per org after each org's highest number (acme had 1 and 3, outsider 2).
    opened = json.loads(run(env, "-m", STEPS, "open-cases", acme["id"], outsider["id"]))
    assert opened == [4, 3]
