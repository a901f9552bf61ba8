"""Bring the embedded services up (unless DATABASE_URL / REDIS_URL point elsewhere)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import sys
from pathlib import Path

from .paths import REPO, read_secret, var_dir
from .postgres import APP_ROLE, OWNER_ROLE, SUPERUSER, EmbeddedPostgres
from .redis import EmbeddedRedis

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the supervisor dies without cleaning up."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def venv_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _secret_key() -> str:
    return read_secret(var_dir() / "secret-key", lambda: secrets.token_urlsafe(50))


class Stack:
    """Embedded Postgres + Redis, started only when the environment does not name real ones."""

    def __init__(self, *, db_role: str = "app", redis_db: int = 0) -> None:
        if db_role not in ("app", "owner"):
            raise ValueError("db_role is 'app' or 'owner'")
        self.db_role = db_role
        self.redis_db = redis_db
        self.pg: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None

    def up(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("DOS_VAR_DIR", str(var_dir()))
        if not env.get("DATABASE_URL"):
            self.pg = EmbeddedPostgres()
            self.pg.start()
            creds = self.pg.creds
            env["DATABASE_URL"] = creds.url(APP_ROLE if self.db_role == "app" else OWNER_ROLE)
            env["MIGRATE_DATABASE_URL"] = creds.url(OWNER_ROLE)
            # Only for tests that must act as the DBA (tamper simulation, guard checks).
            env["DATABASE_SUPERUSER_URL"] = creds.url(SUPERUSER)
        env.setdefault("MIGRATE_DATABASE_URL", env["DATABASE_URL"])
        if not env.get("REDIS_URL"):
            self.redis = EmbeddedRedis()
            self.redis.start()
            env["REDIS_URL"] = self.redis.url(self.redis_db)
        if not env.get("SECRET_KEY") and env.get("DJANGO_ENV", "dev") != "prod":
            env["SECRET_KEY"] = _secret_key()
        env.setdefault("PYTHONPATH", str(REPO))
        return env

    def down(self) -> None:
        if self.redis:
            self.redis.stop()
        if self.pg:
            self.pg.stop()
