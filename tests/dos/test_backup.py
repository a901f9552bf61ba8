"""Backups and restore (dos.backup, `dosctl backup`): the restore drill — backup, wipe, restore,
every chain verifies and every count matches — and the ways a backup can be wrong.

The drill restores into a scratch database the test creates and drops (never the suite's test
database); `dosctl` runs as a real process pointed at it, as an operator would run it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from dos import backup as backups
from dos import scope
from dos.audit import PLATFORM_ORG_ID
from dos.files import write_private
from dos.models import LedgerEntry
from tests.conftest import api_client
from tests.factories import make_key

ROOT = Path(__file__).resolve().parents[2]
BASE = {"age": 35, "income_monthly": 3500000, "dsr": 32.0, "credit_score": 720, "employment_months": 36,
        "delinquencies_12m": 0, "documents_missing": [], "consent_credit_check": True, "loan_amount": 30000000,
        "product": "personal"}
EVIDENCE = "attachments/acme/evidence-001.txt"


@pytest.fixture
def store(settings, tmp_path):
    settings.DOS_BACKUP_DIR = str(tmp_path / "backups")
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path


@pytest.fixture
def seeded(store, acme, outsider, lending):
    """Acme with a published policy, decisions through the API (decision records, the decisions
    chain, meter events) and an uploaded file in MEDIA_ROOT."""
    client = api_client(make_key(acme, scopes=["decisions.run", "decisions.read"], name="lender"))
    for i, changes in enumerate([{"credit_score": 800, "dsr": 22.0}, {"dsr": 48.5}, {"documents_missing": ["x"]},
                                 {}, {"credit_score": 500}]):
        response = client.post("/api/v1/decide", {"subject_id": f"lead-{i}", "purpose": "loan_screening",
                                                  "input": {**BASE, **changes}}, format="json")
        assert response.status_code == 200, response.content
    write_private(Path(django_settings.MEDIA_ROOT) / EVIDENCE, "급여명세서 2025-01 (scan)\n")
    return acme


def _cmd(*args) -> tuple[str, object]:
    out = io.StringIO()
    call_command("backup", *args, stdout=out)
    return out.getvalue(), None


def _json_cmd(*args) -> dict:
    out = io.StringIO()
    call_command("backup", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


# -- the drill ------------------------------------------------------------------------------------

@pytest.fixture
def drill_db():
    """An empty scratch database on the suite's server, dropped after."""
    owner = backups.Pg.owner()
    name = f"{owner.dbname[:30]}_drill_{uuid.uuid4().hex[:6]}"
    with owner.db("postgres").connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield owner.db(name)
    backups._drop_database(owner, name)


def _dosctl(target: backups.Pg, media: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": target.url(), "MEDIA_ROOT": str(media),
           "DOS_BACKUP_DIR": str(backups.backup_dir()), "DJANGO_ENV": "test", "LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "dos.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def _counts(target: backups.Pg) -> dict[str, int]:
    with target.connect() as conn, conn.cursor() as cur:
        backups._platform_on(cur)
        return backups._counts(cur, backups._tables(cur))


def _assert_counts_match(counts: dict, manifest: dict) -> None:
    """Every table holds the rows the manifest recorded. A restore checks that exactly before it
    appends anything; its own `audit verify` and backup.restored entries then go to the platform
    audit chain (creating the platform org if the backup had none): only those tables grow."""
    grown = {"dos_ledgerentry", "dos_chainhead", "tenancy_org"}
    assert {t: n for t, n in counts.items() if t not in grown} == {
        t: n for t, n in manifest["tables"].items() if t not in grown}
    assert all(0 <= counts[t] - manifest["tables"][t] <= 4 for t in grown), {t: counts[t] for t in grown}


@pytest.mark.django_db(transaction=True)
def test_restore_drill_backup_wipe_restore_every_chain_verifies_and_counts_match(seeded, store, drill_db):
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session["signed_in"] = True
    session.create()  # a bearer secret: backups leave sessions out
    manifest = _json_cmd("create")
    assert manifest["tables"]["django_session"] == 0
    assert manifest["tables"]["decisions_decisionrecord"] == 5 and manifest["tables"]["billing_meterevent"] >= 5
    chains = {(c["org_id"], c["chain"]) for c in manifest["chains"]}
    assert (str(seeded.id), "decisions") in chains and (str(seeded.id), "audit") in chains
    assert manifest["media"]["files"] == 1 and len(manifest["dump"]["sha256"]) == 64

    # The live database: the backup loaded into an empty database (a new server).
    media = store / "drill-media"
    first = _dosctl(drill_db, media, "backup", "restore", manifest["name"], "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    _assert_counts_match(_counts(drill_db), manifest)

    # The disaster: every table dropped, the uploads gone.
    with drill_db.connect() as conn:
        tables = [r[0] for r in conn.execute("SELECT quote_ident(relname) FROM pg_class c JOIN pg_namespace n ON "
                                             "n.oid = c.relnamespace WHERE nspname = 'public' AND relkind = 'r'")]
        conn.execute(f"DROP TABLE {', '.join(tables)} CASCADE")
        # as in production (docker/initdb): tables the owner creates are granted to the app role
        conn.execute("ALTER DEFAULT PRIVILEGES FOR ROLE dos_owner IN SCHEMA public "
                     "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dos_app")
    (media / EVIDENCE).unlink()
    assert _counts(drill_db) == {}

    started = time.perf_counter()
    restored = _dosctl(drill_db, media, "backup", "restore", manifest["name"], "--yes", "--json")
    elapsed = time.perf_counter() - started
    assert restored.returncode == 0, restored.stdout + restored.stderr
    outcome = json.loads(restored.stdout)
    assert outcome["ok"] and outcome["problems"] == [] and outcome["chains_verified"] >= len(manifest["chains"])
    print(f"\nrestore drill: {sum(manifest['tables'].values())} rows in {len(manifest['tables'])} tables, "
          f"{manifest['dump']['bytes'] / 1e6:.2f} MB dump — pg_restore {outcome['seconds']['restore']:.2f}s, "
          f"checks {outcome['seconds']['counts'] + outcome['seconds']['chains']:.2f}s, "
          f"dosctl backup restore end to end {elapsed:.2f}s")

    # Counts as the manifest recorded them (checked exactly by the restore itself, too).
    _assert_counts_match(_counts(drill_db), manifest)
    verify = _dosctl(drill_db, media, "audit", "verify", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    assert report["ok"] and chains <= {(c["org_id"], c["chain"]) for c in report["chains"]}
    decisions_chain = next(c for c in report["chains"] if c["org_id"] == str(seeded.id) and c["chain"] == "decisions")
    assert decisions_chain["checked"] == 5 and decisions_chain["records_checked"] == 5
    assert (media / EVIDENCE).read_text() == "급여명세서 2025-01 (scan)\n"

    # The append-only protections came back with the data.
    with drill_db.connect() as conn:
        assert not conn.execute("SELECT has_table_privilege('dos_app', 'dos_ledgerentry', 'UPDATE') OR "
                                "has_table_privilege('dos_app', 'billing_meterevent', 'DELETE')").fetchone()[0]
        conn.execute("SELECT set_config('dos.platform', 'on', false)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("UPDATE dos_ledgerentry SET action = 'rewritten'")


# -- verify ---------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_verify_rehearses_the_restore_in_a_scratch_database_and_records_it(seeded, store):
    name = _json_cmd("create")["name"]
    manifest = _json_cmd("verify", name)
    verify = manifest["verify"]
    assert verify["ok"] and verify["problems"] == [] and verify["chains_verified"] >= 3
    assert verify["rows"] == sum(manifest["tables"].values()) and manifest["verified_at"]
    assert json.loads((backups.backup_dir() / name / "manifest.json").read_text())["verify"]["ok"] is True
    with backups.Pg.owner().db("postgres").connect() as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                            [f"{manifest['database'][:30]}_verify_%"]).fetchall()
    assert left == []  # the scratch database is gone
    with scope.platform_scope(reason="test"):
        assert LedgerEntry.objects.filter(org_id=PLATFORM_ORG_ID, action="backup.verified").exists()


@pytest.mark.django_db(transaction=True)
def test_verify_finds_a_tampered_dump_and_restore_refuses_it(seeded, store):
    name = _json_cmd("create")["name"]
    dump = backups.backup_dir() / name / "db.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    with pytest.raises(SystemExit) as exit_info:
        _cmd("verify", name)
    assert exit_info.value.code == 1
    problems = json.loads((dump.parent / "manifest.json").read_text())["verify"]["problems"]
    assert [p["kind"] for p in problems] == ["checksum_mismatch"] and problems[0]["file"] == "db.dump"
    with pytest.raises(CommandError, match=r"checksum_mismatch on db\.dump"):
        _cmd("restore", name, "--yes")


@pytest.mark.django_db(transaction=True)
def test_verify_finds_rows_the_manifest_does_not_account_for(seeded, store):
    name = _json_cmd("create")["name"]
    path = backups.backup_dir() / name / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["tables"]["decisions_decisionrecord"] += 1  # the manifest promised a decision the dump lacks
    path.write_text(json.dumps(manifest))
    with pytest.raises(SystemExit):
        _cmd("verify", name)
    problems = json.loads(path.read_text())["verify"]["problems"]
    assert problems == [{"kind": "row_count_mismatch", "table": "decisions_decisionrecord", "expected": 6,
                         "actual": 5}]


# -- restore refusals -----------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_restore_prints_the_plan_and_refuses_without_yes(seeded, store):
    name = _json_cmd("create")["name"]
    out = io.StringIO()
    with pytest.raises(CommandError, match="without --yes"):
        call_command("backup", "restore", name, stdout=out)
    assert f"restore backup {name}" in out.getvalue() and "one transaction" in out.getvalue()
    with pytest.raises(CommandError, match="is not the configured database"):
        call_command("backup", "restore", name, "--yes", "--database", "someone_elses", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No backup 'nope'"):
        call_command("backup", "restore", "nope", "--yes", stdout=io.StringIO())


# -- retention ------------------------------------------------------------------------------------

def _fake(name: str, *, kind: str, created: dt.datetime, ok: bool | None = None) -> None:
    folder = backups.backup_dir() / name
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({
        "name": name, "kind": kind, "created_at": created.isoformat(), "tables": {}, "chains": [],
        "dump": {"bytes": 0}, "verify": None if ok is None else {"ok": ok}}))


def test_prune_keeps_the_newest_nightly_backups_and_the_last_verified_one(store):
    start = dt.datetime(2025, 3, 1, 17, 30, tzinfo=dt.UTC)
    for day in range(6):
        # only the oldest passed its rehearsal; the newer ones are unverified or failed
        _fake(f"nightly-2025-03-0{day + 2}", kind="nightly", created=start + dt.timedelta(days=day),
              ok=True if day == 0 else (False if day == 5 else None))
    _fake("before-migration", kind="manual", created=start - dt.timedelta(days=30))
    stale = backups.backup_dir() / "nightly-2025-02-01.partial"
    stale.mkdir()
    os.utime(stale, (start.timestamp(), start.timestamp()))

    deleted = backups.backup_prune(keep=3, now=start + dt.timedelta(days=6))
    assert sorted(deleted) == ["nightly-2025-02-01.partial", "nightly-2025-03-03", "nightly-2025-03-04"]
    assert [m["name"] for m in backups.backup_list()] == [
        "nightly-2025-03-07", "nightly-2025-03-06", "nightly-2025-03-05", "nightly-2025-03-02", "before-migration"]
    with pytest.raises(backups.BackupError):
        backups.backup_prune(keep=0)


# -- the nightly job ------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_the_nightly_job_is_idempotent_per_night_and_audited(seeded, store):
    from dos.tasks import backup_nightly

    night = dt.datetime(2025, 3, 1, 17, 30, tzinfo=dt.UTC)  # 02:30 on 2 March in Seoul
    first = backup_nightly(now=night)
    assert first["backup"] == "nightly-2025-03-02" and first["verified"]
    created = json.loads((backups.backup_dir() / first["backup"] / "manifest.json").read_text())["created_at"]
    again = backup_nightly(now=night + dt.timedelta(minutes=20))  # redelivered the same night
    assert again["backup"] == first["backup"] and again["dump_sha256"] == first["dump_sha256"]
    assert json.loads((backups.backup_dir() / first["backup"] / "manifest.json").read_text())["created_at"] == created
    assert [m["name"] for m in backups.backup_list()] == ["nightly-2025-03-02"]
    with scope.platform_scope(reason="test"):
        assert LedgerEntry.objects.filter(org_id=PLATFORM_ORG_ID, action="backup.verified").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_failed_nightly_backup_is_logged_audited_and_counted(seeded, store, settings):
    from dos.tasks import backup_nightly

    settings.DOS_PG_BIN = str(store / "no-postgres-here")
    before = backups.BACKUP_RUNS.labels(step="create", outcome="failed")._value.get()
    with pytest.raises(backups.BackupError, match="holds no pg_dump"):
        backup_nightly(now=dt.datetime(2025, 3, 1, 17, 30, tzinfo=dt.UTC))
    assert backups.BACKUP_RUNS.labels(step="create", outcome="failed")._value.get() == before + 1
    with scope.platform_scope(reason="test"):
        failed = LedgerEntry.objects.get(org_id=PLATFORM_ORG_ID, action="backup.failed")
    assert failed.data["step"] == "create" and failed.data["backup"] == "nightly-2025-03-02"
    assert not list(backups.backup_dir().glob("*"))  # nothing half-written left that looks like a backup


def test_backup_help_reads_well():
    proc = subprocess.run([sys.executable, "-m", "dos.cli", "backup", "--help"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "DJANGO_ENV": "test"})
    assert proc.returncode == 0 and "{create,verify,restore,list,prune}" in proc.stdout
    assert "backup" in subprocess.run([sys.executable, "-m", "dos.cli", "--help"], cwd=ROOT, capture_output=True,
                                      text=True).stdout


def test_prune_deletes_the_folder_it_found_whatever_its_manifest_says(store, tmp_path):
    """A manifest copied into another folder, or edited to name a path, never makes prune delete
    anything but the folder it was found in."""
    outside = tmp_path / "outside"
    outside.mkdir()
    start = dt.datetime(2025, 3, 1, 17, 30, tzinfo=dt.UTC)
    _fake("nightly-a", kind="nightly", created=start)
    _fake("nightly-b", kind="nightly", created=start + dt.timedelta(days=1))
    manifest = backups.backup_dir() / "nightly-a" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"nightly-a"', json.dumps(str(outside))))
    assert backups.backup_prune(keep=1, now=start + dt.timedelta(days=2)) == ["nightly-a"]
    assert outside.is_dir() and not (backups.backup_dir() / "nightly-a").exists()


@pytest.mark.parametrize("name", ["../escape", "/etc", ".hidden", "a/b", "x.partial", "a b"])
def test_a_backup_name_is_a_plain_folder_name(store, name):
    with pytest.raises(backups.BackupError):
        backups.backup_create(name=name)
    with pytest.raises(backups.BackupError):
        backups.backup_path(name)


def test_backup_connections_keep_the_configured_tls_settings(settings):
    from dos.backup_pg import Pg

    default = {**settings.DATABASES["default"], "OPTIONS": {"sslmode": "verify-full", "sslrootcert": "/etc/ca.pem",
                                                           "application_name": "dos-web", "pool": False}}
    settings.DATABASES = {**settings.DATABASES, "default": default}
    info = Pg.configured().conninfo()
    assert "sslmode=verify-full" in info and "sslrootcert=/etc/ca.pem" in info
    assert "application_name" not in info  # the web process's own name is not the backup's
    scratch = Pg.from_url("postgres://owner:pw@db.internal:5433/postgres?sslmode=require")
    assert "sslmode=require" in scratch.db("scratch").conninfo() and "pw" not in scratch.conninfo()
