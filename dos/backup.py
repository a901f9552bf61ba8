"""Backups that prove what they hold, and a restore that is rehearsed after every backup.

A backup is one folder under ``DOS_BACKUP_DIR`` (``<name>/``, written as ``<name>.partial/`` and
renamed when complete, so a killed run never leaves something that looks finished):

* ``db.dump``     ``pg_dump --format=custom`` of the database: schema, data, triggers, row-level
  security policies and privileges (the app role's REVOKEs on recorded facts included);
* ``media.tar.gz`` everything under ``MEDIA_ROOT`` (case attachments, exports);
* ``manifest.json`` when it was taken, from which database and server, the rows of every table and
  the head (seq + hash) of every hash chain — all read in the very snapshot ``pg_dump`` dumps
  (``pg_export_snapshot``), so the counts are exact, not "about then" — and the sha256 of both
  files. ``verify`` and ``restore`` write their outcome back into it.

``backup_verify`` is the restore rehearsal (BCP/DR: "after each backup, an automatic restore into a
sandbox plus checksum checks"): it checks both checksums, restores into a scratch database
``<db>_verify_<stamp>``, compares every table's rows and every chain head with the manifest, checks
that the append-only triggers and the app role's REVOKEs came back, runs ``dosctl audit verify``
against the scratch database, and drops it. ``backup_restore`` puts a backup back into the
configured database in one transaction (a failed restore changes nothing), puts the media files
back and then runs the same checks in place. ``backup_nightly`` (beat) is create + verify + prune,
idempotent per night, with its outcome on the platform audit chain and in Prometheus.

The logical dump is the second line of defence: RPO ≤ 15 min comes from WAL archiving and
point-in-time recovery on the production server (docs/runbooks/backup-restore.md).

Settings (``settings.X`` first, then the environment):

* ``DOS_BACKUP_DIR``   where backups live (default ``<DOS_VAR_DIR>/backups``);
* ``DOS_BACKUP_KEEP``  nightly backups kept by ``prune`` (default 14: the logical-dump retention);
* ``DOS_PG_BIN``       the folder holding ``pg_dump``/``pg_restore`` (default: the embedded server's
  in dev and test, then ``PATH``; in prod ``PATH``). They must be at least the server's version;
* ``DOS_BACKUP_OWNER_URL``   the owning role, which a restore needs (default ``MIGRATE_DATABASE_URL``);
* ``DOS_BACKUP_SCRATCH_URL`` a server and a role with CREATEDB where ``verify`` may create and drop
  its scratch database (default: the owning role on the same server).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
from django.conf import settings
from django.utils import timezone
from prometheus_client import Counter, Gauge
from psycopg import sql

from dos import backup_pg
from dos.backup_pg import BackupError, Pg, _chain_heads, _counts, _platform_on, _run, _setting, _tables, pg_tool

log = structlog.get_logger(__name__)

MANIFEST = "manifest.json"
DUMP = "db.dump"
MEDIA = "media.tar.gz"
FORMAT = 1
DEFAULT_KEEP = 14
NIGHTLY_TZ = ZoneInfo("Asia/Seoul")

BACKUP_RUNS = Counter("dos_backup_runs_total", "Backup steps run, by step and outcome.", ["step", "outcome"])
BACKUP_LAST_SUCCESS = Gauge("dos_backup_last_success_timestamp_seconds",
                            "When the last backup that also passed its restore rehearsal finished.",
                            multiprocess_mode="max")


def backup_dir() -> Path:
    var_dir = Path(getattr(settings, "VAR_DIR", Path(settings.BASE_DIR) / "var"))
    return Path(_setting("DOS_BACKUP_DIR", var_dir / "backups"))


def keep_default() -> int:
    return int(_setting("DOS_BACKUP_KEEP", DEFAULT_KEEP))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


# -- manifests ------------------------------------------------------------------------------------

def _read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} has no readable {MANIFEST}: {exc}", code="backup_unreadable") from exc


def _write_manifest(folder: Path, manifest: dict) -> None:
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    os.replace(tmp, folder / MANIFEST)


# A backup's name is a folder name inside DOS_BACKUP_DIR and nothing else (no separators, no dots first).
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def valid_name(name: str) -> str:
    if not name or not NAME_RE.fullmatch(name) or name.endswith(".partial"):
        raise BackupError(f"'{name}' is not a backup name (letters, digits, '.', '_', '-').",
                          code="backup_not_found", status=404)
    return name


def backup_path(name: str) -> Path:
    folder = backup_dir() / valid_name(name)
    if not (folder / MANIFEST).exists():
        raise BackupError(f"No backup '{name}' in {backup_dir()} (see 'dosctl backup list').",
                          code="backup_not_found", status=404)
    return folder


def backup_list() -> list[dict]:
    """Every complete backup, newest first."""
    root = backup_dir()
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if folder.is_dir() and not folder.name.endswith(".partial") and (folder / MANIFEST).exists():
            with contextlib.suppress(BackupError):
                # The folder is the backup: a copied or edited manifest never names another one.
                found.append({**_read_manifest(folder), "name": folder.name})
    return sorted(found, key=lambda m: (m.get("created_at", ""), m.get("name", "")), reverse=True)


# -- create ---------------------------------------------------------------------------------------

def _new_name(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def backup_create(*, name: str | None = None, kind: str = "manual", now: dt.datetime | None = None) -> dict:
    """Dump the database and MEDIA_ROOT into a new backup folder; returns its manifest.

    The row counts and chain heads are read in the transaction whose snapshot pg_dump dumps, so
    they describe exactly the dumped data. An existing complete backup of that name is returned
    unchanged (a re-run reuses it); a half-written one is discarded and written again."""
    now = now or timezone.now()
    name = valid_name(name or _new_name(now))
    root = backup_dir()
    final, partial = root / name, root / f"{name}.partial"
    if (final / MANIFEST).exists():
        return _read_manifest(final)
    pg_dump = pg_tool("pg_dump")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True, mode=0o700)
    try:
        manifest = _create_into(partial, name=name, kind=kind, now=now, pg_dump=pg_dump)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    os.replace(partial, final)
    log.info("backup.created", backup=name, kind=kind, rows=sum(manifest["tables"].values()),
             chains=len(manifest["chains"]), dump_bytes=manifest["dump"]["bytes"],
             seconds=round(manifest["dump"]["seconds"] + manifest["media"]["seconds"], 3))
    return manifest


def _create_into(partial: Path, *, name: str, kind: str, now: dt.datetime, pg_dump: str) -> dict:
    source = Pg.configured()
    started = time.perf_counter()

    with source.connect(autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        _platform_on(cur)
        cur.execute("SELECT pg_export_snapshot(), current_setting('server_version'), pg_database_size(current_database())")
        snapshot, server_version, db_bytes = cur.fetchone()
        dump = subprocess.Popen(
            [pg_dump, "--format=custom", "--enable-row-security", f"--snapshot={snapshot}",
             *(f"--exclude-table-data={table}" for table in backup_pg.EXCLUDED_DATA),
             f"--file={partial / DUMP}", "--dbname", source.conninfo()],
            env=source.env(PGOPTIONS="-c dos.platform=on"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        try:
            tables = _tables(cur)
            counts = _counts(cur, tables)
            chains = _chain_heads(cur)
            cur.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname")
            extensions = [r[0] for r in cur.fetchall()]
            _stdout, stderr = dump.communicate()
        finally:
            if dump.poll() is None:
                dump.kill()
                dump.wait()
        conn.rollback()
    if dump.returncode != 0:
        raise BackupError(f"pg_dump failed ({dump.returncode}): {stderr.strip()[-1500:]}", code="pg_tool_failed")
    dump_seconds = time.perf_counter() - started

    media_started = time.perf_counter()
    media_files = 0
    media_root = _media_root()
    with tarfile.open(partial / MEDIA, "w:gz", compresslevel=6) as tar:
        if media_root.is_dir():
            for path in sorted(media_root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    tar.add(path, arcname=str(path.relative_to(media_root)), recursive=False)
                    media_files += 1
    media_seconds = time.perf_counter() - media_started
    version = _run([pg_dump, "--version"], env=dict(os.environ), what="pg_dump --version").stdout.strip()

    manifest = {
        "format": FORMAT, "name": name, "kind": kind, "created_at": now.astimezone(dt.UTC).isoformat(),
        "database": source.dbname, "server_version": server_version, "pg_dump_version": version,
        "database_bytes": db_bytes, "extensions": extensions, "tables": counts, "chains": chains,
        "dump": {"file": DUMP, "bytes": (partial / DUMP).stat().st_size, "sha256": _sha256(partial / DUMP),
                 "seconds": round(dump_seconds, 3)},
        "media": {"file": MEDIA, "root": str(media_root), "files": media_files, "bytes": (partial / MEDIA).stat().st_size,
                  "sha256": _sha256(partial / MEDIA), "seconds": round(media_seconds, 3)},
        "verified_at": None, "verify": None,
    }
    _write_manifest(partial, manifest)
    return manifest


# -- checks shared by verify and restore ----------------------------------------------------------

@dataclass
class CheckReport:
    ok: bool = True
    problems: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    chains_verified: int = 0
    rows: int = 0

    def problem(self, kind: str, **detail) -> None:
        self.ok = False
        self.problems.append({"kind": kind, **detail})

    def as_dict(self) -> dict:
        return {"ok": self.ok, "problems": self.problems, "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "chains_verified": self.chains_verified, "rows": self.rows}


def _check_checksums(folder: Path, manifest: dict, report: CheckReport) -> None:
    for part in ("dump", "media"):
        meta = manifest[part]
        path = folder / meta["file"]
        if not path.exists():
            report.problem("file_missing", file=meta["file"])
        elif (actual := _sha256(path)) != meta["sha256"]:
            report.problem("checksum_mismatch", file=meta["file"], expected=meta["sha256"], actual=actual)


def _restore_list(folder: Path, manifest: dict, work: Path) -> Path:
    """pg_restore's table of contents without the extensions: they belong to whoever installed them
    (a superuser, in template1), so a restore creates them only when missing and never drops them."""
    toc = _run([pg_tool("pg_restore"), "--list", str(folder / manifest["dump"]["file"])], env=dict(os.environ),
               what="pg_restore --list").stdout
    keep = [line for line in toc.splitlines()
            if not (" EXTENSION " in line and not line.startswith(";"))]
    path = work / "restore.list"
    path.write_text("\n".join(keep) + "\n")
    return path


def _tail(fh, limit: int = 1500) -> str:
    fh.seek(0)
    return fh.read().decode(errors="replace").strip()[-limit:]


def _ensure_extensions(target: Pg, extensions: list[str]) -> None:
    with target.connect() as conn:
        for ext in extensions:
            exists = conn.execute("SELECT 1 FROM pg_extension WHERE extname = %s", [ext]).fetchone()
            if not exists:
                conn.execute(f'CREATE EXTENSION IF NOT EXISTS "{ext}"')


def _pg_restore(folder: Path, manifest: dict, target: Pg, *, clean: bool) -> float:
    """Restore the dump into ``target`` in one transaction; returns the seconds it took.

    Into a fresh database (``clean=False``, the rehearsal) ``pg_restore`` runs as is, so the
    rehearsal checks exactly what the dump holds. Into an existing database (``clean=True``) every
    object of the dump is dropped and recreated, and the app role's REVOKEs on recorded facts are
    re-applied before COMMIT (``protected_tables_sql``): pg_dump writes privileges as GRANTs on top
    of a bare table, and the target's default privileges would otherwise hand UPDATE and DELETE
    back to the app role on every table the restore recreates."""
    from dos.append_only import protected_tables_sql

    started = time.perf_counter()
    _ensure_extensions(target, manifest.get("extensions", []))
    dump = str(folder / manifest["dump"]["file"])
    with tempfile.TemporaryDirectory(prefix="dos-restore-") as work:
        listing = _restore_list(folder, manifest, Path(work))
        if not clean:
            _run([pg_tool("pg_restore"), "--exit-on-error", "--single-transaction", f"--use-list={listing}",
                  "--dbname", target.conninfo(), dump], env=target.env(), what=f"pg_restore into {target.dbname}")
            return time.perf_counter() - started
        with tempfile.TemporaryFile() as script_err, tempfile.TemporaryFile() as psql_err:
            script = subprocess.Popen([pg_tool("pg_restore"), "--clean", "--if-exists", f"--use-list={listing}",
                                       "--file=-", dump], stdout=subprocess.PIPE, stderr=script_err)
            psql = subprocess.Popen([pg_tool("psql"), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1",
                                     "--dbname", target.conninfo(), "--file=-"], env=target.env(),
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err)
            try:
                psql.stdin.write(b"BEGIN;\n")
                for block in iter(lambda: script.stdout.read(1 << 20), b""):
                    psql.stdin.write(block)
                # the script emptied search_path; the REVOKEs name their tables unqualified
                psql.stdin.write(f"\nSET search_path = public;\n{protected_tables_sql()}\nCOMMIT;\n".encode())
                psql.stdin.close()
            except BrokenPipeError:
                script.kill()  # psql stopped at the first error (and rolled back): its message says why
            script.stdout.close()
            if psql.wait() != 0:
                script.wait()
                raise BackupError(f"restore into {target.dbname} failed and was rolled back ({psql.returncode}): "
                                  f"{_tail(psql_err)}", code="pg_tool_failed")
            if script.wait() != 0:
                raise BackupError(f"pg_restore failed ({script.returncode}): {_tail(script_err)}",
                                  code="pg_tool_failed")
    return time.perf_counter() - started


def _check_database(target: Pg, manifest: dict, report: CheckReport) -> None:
    """Rows of every table and every chain head as the manifest recorded them; the append-only
    triggers and the app role's REVOKEs in place."""
    from dos.append_only import APP_ROLE, PROTECTED_TABLES

    started = time.perf_counter()
    with target.connect() as conn, conn.cursor() as cur:
        _platform_on(cur)
        tables = _tables(cur)
        expected = manifest["tables"]
        for table in sorted(set(expected) - set(tables)):
            report.problem("table_missing", table=table)
        counts = _counts(cur, [t for t in tables if t in expected])
        report.rows = sum(counts.values())
        for table, rows in counts.items():
            if rows != expected[table]:
                report.problem("row_count_mismatch", table=table, expected=expected[table], actual=rows)
        heads = {(c["org_id"], c["chain"]): (c["seq"], c["hash"]) for c in _chain_heads(cur)}
        for chain in manifest["chains"]:
            found = heads.get((chain["org_id"], chain["chain"]))
            if found != (chain["seq"], chain["hash"]):
                report.problem("chain_head_mismatch", org_id=chain["org_id"], chain=chain["chain"],
                               expected={"seq": chain["seq"], "hash": chain["hash"]},
                               actual=None if found is None else {"seq": found[0], "hash": found[1]})
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE])
        app_role = cur.fetchone() is not None
        for table in PROTECTED_TABLES:
            if table not in tables:
                continue
            cur.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [table])
            if not cur.fetchone()[0]:
                report.problem("append_only_trigger_missing", table=table)
            if app_role:
                cur.execute("SELECT has_table_privilege(%s, %s, 'UPDATE') OR has_table_privilege(%s, %s, 'DELETE') "
                            "OR has_table_privilege(%s, %s, 'TRUNCATE')", [APP_ROLE, table] * 3)
                if cur.fetchone()[0]:
                    report.problem("app_role_may_mutate", table=table, role=APP_ROLE)
    report.seconds["counts"] = time.perf_counter() - started


def _audit_verify(target: Pg, report: CheckReport) -> None:
    """``dosctl audit verify`` against ``target``, in a process of its own (the chain checks and
    the apps' record checks read through Django's default connection)."""
    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k not in ("DOS_TEST_DB_NAME",)}
    env.update(DATABASE_URL=target.url(), DB_CONN_MAX_AGE="0", LOG_LEVEL="WARNING",
               PYTHONPATH=os.pathsep.join(filter(None, [str(settings.BASE_DIR), env.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "dos.cli", "audit", "verify", "--json"], env=env,
                          cwd=str(settings.BASE_DIR), capture_output=True, text=True)
    report.seconds["chains"] = time.perf_counter() - started
    out = proc.stdout
    start = out.find("{\n")
    try:
        result = json.loads(out[start:]) if start >= 0 else None
    except ValueError:
        result = None
    if result is None:
        report.problem("audit_verify_failed", exit_code=proc.returncode,
                       output=(proc.stderr or proc.stdout).strip()[-1500:])
        return
    report.chains_verified = len(result["chains"])
    for chain in result["chains"]:
        if not chain["ok"]:
            report.problem("chain_broken", org_id=chain["org_id"], chain=chain["chain"], failure=chain["failure"],
                           first_bad_seq=chain["first_bad_seq"], reason=chain["reason"])
    if proc.returncode != 0 and report.ok:
        report.problem("audit_verify_failed", exit_code=proc.returncode, output=proc.stderr.strip()[-1500:])


def _drop_database(server: Pg, name: str, deadline_seconds: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            with server.db("postgres").connect() as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            return
        except (psycopg.errors.ObjectInUse, psycopg.errors.InsufficientPrivilege):
            # An autovacuum worker only a superuser may end: it leaves by itself within moments.
            if time.monotonic() > deadline:
                log.error("backup.scratch_not_dropped", database=name)
                return
            time.sleep(0.5)


# -- verify ---------------------------------------------------------------------------------------

def backup_verify(name: str) -> dict:
    """The restore rehearsal: checksums, restore into a scratch database, counts, chain heads,
    protections and ``audit verify`` there, scratch dropped. Writes ``verified_at`` and ``verify``
    (ok, problems, timings) into the manifest and returns the manifest."""
    folder = backup_path(name)
    manifest = _read_manifest(folder)
    report = CheckReport()
    _check_checksums(folder, manifest, report)
    if report.ok:
        server = Pg.scratch_server()
        stamp = timezone.now().strftime("%Y%m%d%H%M%S")
        source = re.sub(r"[^a-z0-9_]", "_", str(manifest.get("database", "dos")).lower())[:30]
        scratch = f"{source}_verify_{stamp}_{uuid.uuid4().hex[:4]}"
        with server.db("postgres").connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
        try:
            report.seconds["restore"] = _pg_restore(folder, manifest, server.db(scratch), clean=False)
            _check_database(server.db(scratch), manifest, report)
            _audit_verify(server.db(scratch), report)
        except BackupError as exc:
            report.problem("restore_failed", reason=str(exc))
        finally:
            _drop_database(server, scratch)
    manifest["verified_at"] = timezone.now().isoformat()
    manifest["verify"] = report.as_dict()
    _write_manifest(folder, manifest)
    (log.info if report.ok else log.error)("backup.verified" if report.ok else "backup.verify_failed", backup=name,
                                           problems=report.problems[:5], seconds=manifest["verify"]["seconds"])
    return manifest


# -- restore --------------------------------------------------------------------------------------

def restore_plan(name: str) -> dict:
    """What ``backup_restore`` would do, for the operator to read before saying yes."""
    manifest = _read_manifest(backup_path(name))
    target = Pg.owner()
    return {"backup": name, "created_at": manifest["created_at"], "from_database": manifest["database"],
            "into": target.label(), "rows": sum(manifest["tables"].values()), "tables": len(manifest["tables"]),
            "chains": len(manifest["chains"]), "dump_bytes": manifest["dump"]["bytes"],
            "media_files": manifest["media"]["files"], "media_root": str(_media_root()),
            "last_verify": {"at": manifest.get("verified_at"), "ok": (manifest.get("verify") or {}).get("ok")}}


def backup_restore(name: str, *, database: str | None = None) -> dict:
    """Put backup ``name`` back into the configured database (as the owning role, one transaction:
    every object the dump holds is dropped and recreated; a failure leaves the database as it was),
    extract its media into MEDIA_ROOT, then check counts, chain heads, protections and every chain
    in place. ``database``, when given, must name the configured database."""
    target = Pg.owner()
    if database is not None and database != target.dbname:
        raise BackupError(f"Refusing: '{database}' is not the configured database ({target.dbname}); a restore "
                          "only goes into the database this installation runs on.", code="restore_refused", status=400)
    folder = backup_path(name)
    manifest = _read_manifest(folder)
    report = CheckReport()
    _check_checksums(folder, manifest, report)
    if not report.ok:
        raise BackupError(f"Refusing to restore '{name}': {report.problems[0]['kind']} on "
                          f"{report.problems[0].get('file')}.", code="backup_corrupt", status=409)
    from django.db import connections

    connections.close_all()  # this process holds no lock on what the restore drops
    started = time.perf_counter()
    report.seconds["restore"] = _pg_restore(folder, manifest, target, clean=True)
    media_started = time.perf_counter()
    media_root = _media_root()
    media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / manifest["media"]["file"], "r:gz") as tar:
        tar.extractall(media_root, filter="data")
    report.seconds["media"] = time.perf_counter() - media_started
    _check_database(target, manifest, report)
    _audit_verify(target, report)
    report.seconds["total"] = time.perf_counter() - started
    outcome = {"backup": name, "into": target.label(), **report.as_dict()}
    (log.info if report.ok else log.error)("backup.restored" if report.ok else "backup.restore_check_failed",
                                           **outcome)
    return outcome


# -- retention ------------------------------------------------------------------------------------

def backup_prune(*, keep: int | None = None, now: dt.datetime | None = None) -> list[str]:
    """Delete the oldest nightly backups beyond ``keep`` (manual ones are the operator's), never the
    newest backup whose rehearsal passed; and half-written folders older than a day."""
    keep = keep_default() if keep is None else keep
    if keep < 1:
        raise BackupError("Keep at least one backup.", code="invalid_keep", status=400)
    now = now or timezone.now()
    backups = backup_list()
    verified = [m for m in backups if (m.get("verify") or {}).get("ok")]
    protected = verified[0]["name"] if verified else None
    nightly = [m for m in backups if m.get("kind") == "nightly"]
    deleted = []
    for manifest in nightly[keep:]:
        if manifest["name"] == protected:
            continue
        shutil.rmtree(backup_dir() / manifest["name"], ignore_errors=True)
        deleted.append(manifest["name"])
    root = backup_dir()
    if root.is_dir():
        for folder in root.glob("*.partial"):
            age = now.timestamp() - folder.stat().st_mtime
            if age > 86400:
                shutil.rmtree(folder, ignore_errors=True)
                deleted.append(folder.name)
    if deleted:
        log.info("backup.pruned", deleted=deleted, keep=keep)
    return deleted


# -- the nightly job ------------------------------------------------------------------------------

def nightly_name(now: dt.datetime) -> str:
    return f"nightly-{now.astimezone(NIGHTLY_TZ).date().isoformat()}"


def backup_audit(action: str, data: dict, *, actor: str = "backup") -> None:
    """One entry on the platform org's audit chain (``backup.verified``, ``backup.failed``, …)."""
    from dos import scope
    from dos.audit import PLATFORM_ORG_ID, audit_record
    from dos.authz import system_actor

    with scope.platform_scope(reason=f"job: {action}", actor=system_actor(actor)):
        audit_record(org_id=PLATFORM_ORG_ID, action=action, actor=system_actor(actor),
                     target=f"backup:{data.get('backup', '')}", data=_no_floats(data))


def _no_floats(value):
    """Hashed content takes no floats (dos.canonical): timings go on the chain as strings."""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return {k: _no_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_floats(v) for v in value]
    return value


def backup_nightly(*, now: dt.datetime | None = None, keep: int | None = None) -> dict:
    """Create (or reuse) tonight's backup, rehearse its restore unless already done, prune. The
    outcome goes to the platform audit chain and to Prometheus; a failure is logged as an error,
    audited as ``backup.failed`` and raised."""
    now = now or timezone.now()
    name = nightly_name(now)
    step = "create"
    try:
        manifest = backup_create(name=name, kind="nightly", now=now)
        BACKUP_RUNS.labels(step="create", outcome="ok").inc()
        step = "verify"
        if not (manifest.get("verify") or {}).get("ok"):
            manifest = backup_verify(name)
        if not manifest["verify"]["ok"]:
            raise BackupError(f"Backup {name} failed its restore rehearsal: {manifest['verify']['problems'][:3]}",
                              code="backup_verify_failed")
        BACKUP_RUNS.labels(step="verify", outcome="ok").inc()
        step = "prune"
        pruned = backup_prune(keep=keep, now=now)
    except Exception as exc:
        BACKUP_RUNS.labels(step=step, outcome="failed").inc()
        log.exception("backup.failed", backup=name, step=step)
        with contextlib.suppress(Exception):  # the database may be what failed: the log and metric stand
            backup_audit("backup.failed", {"backup": name, "step": step, "error": str(exc)[:500]})
        raise
    BACKUP_LAST_SUCCESS.set(time.time())
    summary = {"backup": name, "rows": sum(manifest["tables"].values()), "chains": len(manifest["chains"]),
               "dump_sha256": manifest["dump"]["sha256"], "dump_bytes": manifest["dump"]["bytes"],
               "verified": True, "verify_seconds": manifest["verify"]["seconds"], "pruned": pruned}
    backup_audit("backup.verified", summary)
    return summary
