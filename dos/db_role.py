"""Startup guard: DecisionOS refuses to serve from a database role that could bypass RLS.

Tenant isolation is enforced by PostgreSQL row-level security. A SUPERUSER or BYPASSRLS role
silently ignores every policy, so running web or workers on one would turn a configuration slip
into a cross-tenant data leak. The role that owns the schema or its tables (``dos_owner``, the
migration role) is refused too: an owner can disable the append-only triggers, drop the RLS
policies or ALTER the tables, so a compromised web or worker process could rewrite recorded facts.
Web, workers and beat connect as the application role; only migrations use the owner.
``DOS_ALLOW_UNSAFE_DB_ROLE=1`` exists for local debugging only.
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
    owner: bool = False  # owns (or is a member of the role owning) the schema or any of its tables

    @property
    def safe(self) -> bool:
        """Row-level security applies to this role."""
        return not (self.superuser or self.bypassrls)

    @property
    def may_serve(self) -> bool:
        """Web, workers and beat may run on this role: RLS applies and it cannot alter the tables."""
        return self.safe and not self.owner


# Ownership through membership counts: a member of dos_owner can SET ROLE to it.
_ROLE_SQL = """
SELECT r.rolname, r.rolsuper, r.rolbypassrls,
       EXISTS (SELECT 1 FROM pg_namespace n
                WHERE n.nspname = current_schema() AND pg_has_role(r.oid, n.nspowner, 'MEMBER'))
       OR EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
                     AND pg_has_role(r.oid, c.relowner, 'MEMBER'))
  FROM pg_roles r
 WHERE r.rolname = current_user
"""


def current_role() -> RoleInfo:
    with connection.cursor() as cur:
        cur.execute(_ROLE_SQL)
        name, superuser, bypassrls, owner = cur.fetchone()
    return RoleInfo(name=name, superuser=superuser, bypassrls=bypassrls, owner=owner)


def guard_message(role: RoleInfo) -> str:
    flags = " and ".join(f for f, on in (("SUPERUSER", role.superuser), ("BYPASSRLS", role.bypassrls)) if on)
    if not flags:
        return (
            f"Refusing to start: database role '{role.name}' owns the schema or its tables, so it could "
            "disable the append-only triggers and row-level security. Connect DATABASE_URL as the "
            "application role (not the owner); migrations use MIGRATE_DATABASE_URL. For local "
            "debugging only, DOS_ALLOW_UNSAFE_DB_ROLE=1 overrides this check."
        )
    return (
        f"Refusing to start: database role '{role.name}' is {flags}, which bypasses row-level "
        "security and would expose every tenant's data. Connect DATABASE_URL as the application "
        "role (NOSUPERUSER NOBYPASSRLS); migrations may use MIGRATE_DATABASE_URL. For local "
        "debugging only, DOS_ALLOW_UNSAFE_DB_ROLE=1 overrides this check."
    )


def check_role(role: RoleInfo) -> RoleInfo:
    if not role.may_serve and not settings.DOS_ALLOW_UNSAFE_DB_ROLE:
        raise UnsafeDatabaseRole(guard_message(role))
    return role


def assert_safe_db_role() -> RoleInfo:
    try:
        role = current_role()
    finally:
        # Under gunicorn --preload this runs in the master: never hand a socket to forked workers.
        connection.close()
    return check_role(role)
