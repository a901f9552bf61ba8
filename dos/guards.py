"""Startup guard: DecisionOS refuses to serve from a database role that could bypass RLS.

Tenant isolation is enforced by PostgreSQL row-level security. A SUPERUSER or BYPASSRLS role
silently ignores every policy, so running web or workers on one would turn a configuration slip
into a cross-tenant data leak. ``DOS_ALLOW_UNSAFE_DB_ROLE=1`` exists for local debugging only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection


class UnsafeDatabaseRole(ImproperlyConfigured):
    pass


@dataclass(frozen=True)
class RoleInfo:
    name: str
    superuser: bool
    bypassrls: bool

    @property
    def safe(self) -> bool:
        return not (self.superuser or self.bypassrls)


def current_role() -> RoleInfo:
    with connection.cursor() as cur:
        cur.execute("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        name, superuser, bypassrls = cur.fetchone()
    return RoleInfo(name=name, superuser=superuser, bypassrls=bypassrls)


def guard_message(role: RoleInfo) -> str:
    flags = " and ".join(f for f, on in (("SUPERUSER", role.superuser), ("BYPASSRLS", role.bypassrls)) if on)
    return (
        f"Refusing to start: database role '{role.name}' is {flags}, which bypasses row-level "
        "security and would expose every tenant's data. Connect DATABASE_URL as the application "
        "role (NOSUPERUSER NOBYPASSRLS); migrations may use MIGRATE_DATABASE_URL. For local "
        "debugging only, DOS_ALLOW_UNSAFE_DB_ROLE=1 overrides this check."
    )


def check_role(role: RoleInfo) -> RoleInfo:
    if not role.safe and not settings.DOS_ALLOW_UNSAFE_DB_ROLE:
        raise UnsafeDatabaseRole(guard_message(role))
    return role


def assert_safe_db_role() -> RoleInfo:
    try:
        role = current_role()
    finally:
        # Under gunicorn --preload this runs in the master: never hand a socket to forked workers.
        connection.close()
    return check_role(role)
