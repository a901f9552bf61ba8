"""The database enforces tenancy: every tenant table has RLS enabled, forced and a policy, all from
migrations; the application role cannot bypass it; indexes lead with org_id."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.apps import apps
from django.db import connection

from dos.rls import TenantModel
from tenancy.models import Org

ROOT = Path(__file__).resolve().parents[2]
# Index names allowed not to lead with org_id, each with its reason.
NOT_LEADING_WITH_ORG = {
    "apikey_prefix_idx": "API-key authentication looks the key up by its prefix before the org is known",
}

CATALOG_SQL = """
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
"""


def tenant_tables() -> set[str]:
    tables = {m._meta.db_table for m in apps.get_models() if issubclass(m, TenantModel)}
    return tables | {Org._meta.db_table}


def catalog(cur) -> dict[str, tuple[bool, bool, int]]:
    cur.execute(CATALOG_SQL)
    return {name: (rls, force, policies) for name, rls, force, policies in cur.fetchall()}


def assert_rls_everywhere(rows: dict) -> None:
    missing = sorted(t for t in tenant_tables() if rows.get(t) != (True, True, 1))
    assert not missing, f"tables without forced RLS + one policy: {missing}"


@pytest.mark.django_db
def test_it_forces_rls_with_a_policy_on_every_tenant_table():
    with connection.cursor() as cur:
        assert_rls_everywhere(catalog(cur))


@pytest.mark.django_db
def test_every_table_with_an_org_id_column_is_a_tenant_table():
    with connection.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
                    "AND column_name = 'org_id'")
        with_org = {name for (name,) in cur.fetchall()}
    assert with_org <= tenant_tables(), sorted(with_org - tenant_tables())


@pytest.mark.django_db
def test_the_connection_is_neither_superuser_nor_bypassrls():
    with connection.cursor() as cur:
        cur.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False, False)


@pytest.mark.django_db
def test_unique_constraints_and_indexes_lead_with_org_id():
    with connection.cursor() as cur:
        cur.execute("""
            SELECT t.relname, i.relname, a.attname
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
            WHERE NOT x.indisprimary AND t.relname = ANY(%s)
        """, [sorted(tenant_tables() - {Org._meta.db_table})])
        offenders = [(table, index, col) for table, index, col in cur.fetchall()
                     if col != "org_id" and index not in NOT_LEADING_WITH_ORG]
    assert offenders == []


@pytest.mark.django_db(transaction=True)
def test_migrations_alone_recreate_the_policies_on_an_empty_database():
    settings_dict = connection.settings_dict
    name = f"dos_rebuild_{uuid.uuid4().hex[:8]}"
    base = f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD']}@{settings_dict['HOST']}:{settings_dict['PORT']}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {**os.environ, "DATABASE_URL": f"{base}/{name}", "DJANGO_ENV": "test"}
        proc = subprocess.run([sys.executable, "manage.py", "migrate", "--no-input"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        with psycopg.connect(f"{base}/{name}") as fresh, fresh.cursor() as cur:
            assert_rls_everywhere(catalog(cur))
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
