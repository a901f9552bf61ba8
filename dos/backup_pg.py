"""PostgreSQL for backups (dos.backup): where pg_dump/pg_restore/psql come from, how to connect as
the configured, owning or scratch role without putting a password on a command line, and the reads a
manifest is made of (tables, row counts, chain heads, all orgs at once)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings

from dos.errors import DomainError


class BackupError(DomainError):
    status = 500
    code = "backup_failed"


def _setting(name: str, default=None):
    value = getattr(settings, name, None)
    if value in (None, ""):
        value = os.environ.get(name) or default
    return value


# -- PostgreSQL tools and connections -------------------------------------------------------------

def _embedded_bin() -> Path | None:
    spec = importlib.util.find_spec("pgserver")  # located, not imported: the import is heavy
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return path if path.is_dir() else None


def pg_tool(name: str) -> str:
    """The path of ``pg_dump``/``pg_restore``: ``DOS_PG_BIN``, else the embedded server's binaries
    outside prod (they match the embedded server), else ``PATH``."""
    configured = _setting("DOS_PG_BIN")
    if configured:
        path = Path(configured) / name
        if not path.exists():
            raise BackupError(f"DOS_PG_BIN is {configured}, which holds no {name}.", code="pg_tool_missing")
        return str(path)
    embedded = _embedded_bin() if getattr(settings, "DJANGO_ENV", "prod") != "prod" else None
    if embedded and (embedded / name).exists():
        return str(embedded / name)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client of the server's major version "
                          "(or newer), or set DOS_PG_BIN to its bin folder.", code="pg_tool_missing")
    return found


# Connection parameters a backup must keep from the configured connection (TLS above all); the rest of
# the OPTIONS (application_name, pool and psycopg settings) belong to the web process only.
_LIBPQ_KEEP = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword", "sslnegotiation",
               "channel_binding", "gssencmode", "target_session_attrs", "connect_timeout")


def _libpq_params(options: dict) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(options[k])) for k in _LIBPQ_KEEP if options.get(k) not in (None, ""))


@dataclass(frozen=True)
class Pg:
    """Where to connect, the password kept out of command lines (it goes in PGPASSWORD)."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    # libpq parameters beyond where and who (sslmode, sslrootcert, sslcert, sslkey, …), as in settings.
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_url(cls, url: str) -> Pg:
        from psycopg.conninfo import conninfo_to_dict

        d = conninfo_to_dict(url)
        return cls(host=d.get("host") or "127.0.0.1", port=int(d.get("port") or 5432), user=d.get("user") or "",
                   password=d.get("password") or "", dbname=d.get("dbname") or "", params=_libpq_params(d))

    @classmethod
    def configured(cls) -> Pg:
        """The database in settings, with the role in settings (the app role in production)."""
        db = settings.DATABASES["default"]
        return cls(host=db.get("HOST") or "127.0.0.1", port=int(db.get("PORT") or 5432), user=db.get("USER") or "",
                   password=db.get("PASSWORD") or "", dbname=db["NAME"], params=_libpq_params(db.get("OPTIONS") or {}))

    @classmethod
    def owner(cls) -> Pg:
        """The database in settings, as the owning role (restore, verify)."""
        here = cls.configured()
        url = _setting("DOS_BACKUP_OWNER_URL") or os.environ.get("MIGRATE_DATABASE_URL")
        if not url:
            return here
        owner = cls.from_url(url)
        return replace(here, user=owner.user, password=owner.password)

    @classmethod
    def scratch_server(cls) -> Pg:
        url = _setting("DOS_BACKUP_SCRATCH_URL")
        return cls.from_url(url) if url else cls.owner()

    def db(self, name: str) -> Pg:
        return replace(self, dbname=name)

    def conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(host=self.host, port=str(self.port), user=self.user, dbname=self.dbname,
                             **dict(self.params))

    def url(self) -> str:
        from urllib.parse import quote

        return f"postgres://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/" \
               f"{quote(self.dbname, safe='')}"

    def env(self, **extra) -> dict:
        return {**os.environ, "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10", **extra}

    def connect(self, *, autocommit: bool = True):
        import psycopg

        return psycopg.connect(self.conninfo(), password=self.password, autocommit=autocommit,
                               application_name="dos-backup")

    def label(self) -> str:
        return f"{self.dbname} on {self.host}:{self.port} as {self.user}"


def _run(argv: list[str], *, env: dict, what: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(f"{what} failed ({proc.returncode}): {proc.stderr.strip()[-1500:]}", code="pg_tool_failed")
    return proc


# -- reading a database ---------------------------------------------------------------------------

def _tables(cur) -> list[str]:
    cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname")
    return [r[0] for r in cur.fetchall()]


# Tables whose rows a backup leaves out: sign-in sessions are bearer secrets, and a restored
# database signing everyone out is the right outcome anyway.
EXCLUDED_DATA = ("django_session",)


def _counts(cur, tables) -> dict[str, int]:
    out = {}
    for table in tables:
        if table in EXCLUDED_DATA:
            out[table] = 0
            continue
        cur.execute(f'SELECT count(*) FROM public."{table}"')
        out[table] = cur.fetchone()[0]
    return out


def _chain_heads(cur) -> list[dict]:
    cur.execute("SELECT to_regclass('public.dos_chainhead') IS NOT NULL")
    if not cur.fetchone()[0]:
        return []
    cur.execute("SELECT org_id, chain, seq, hash FROM dos_chainhead ORDER BY org_id, chain")
    return [{"org_id": str(o), "chain": c, "seq": s, "hash": h} for o, c, s, h in cur.fetchall()]


def _platform_on(cur) -> None:
    # Every row of every org: RLS is forced even for the owner; the policies let the platform flag through.
    cur.execute("SELECT set_config('dos.platform', 'on', false)")


