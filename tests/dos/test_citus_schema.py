"""The schema after the migrations follows the rules a database sharded by org_id needs
(dos/citus.py, docs/decisions/0011-citus-ready-schema.md), read from pg_catalog."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from dos import scope
from dos.citus import LOCAL_TABLES, REFERENCE_TABLES
from dos.counters import org_counter_take
from tests.factories import make_org

TABLES_SQL = """
SELECT c.relname,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
"""

# Unique indexes (primary keys and unique constraints included) with the names of their key columns.
UNIQUE_SQL = """
SELECT t.relname, i.relname, x.indisprimary,
       ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.i)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND x.indisunique
"""

# Foreign keys as (table, name, referenced table, [(column, referenced column), …]).
FK_SQL = """
SELECT c.conrelid::regclass::text, c.conname, c.confrelid::regclass::text,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i),
       c.condeferrable AND c.condeferred
FROM pg_constraint c
WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
"""

WHAT_TO_DO = ("a table without org_id must be declared in dos/citus.py: REFERENCE_TABLES if tenant tables or "
              "sign-in read it on every node (users, plans, price book), LOCAL_TABLES if it is framework "
              "bookkeeping never joined with tenant data — or give it an org_id (TenantModel, with EnableRLS, "
              "TenantPrimaryKey and CompositeForeignKey in its migration)")


def catalog(sql: str) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def tables() -> tuple[set[str], set[str]]:
    rows = catalog(TABLES_SQL)
    return {name for name, has_org in rows if has_org}, {name for name, has_org in rows if not has_org}


@pytest.mark.django_db
def test_every_table_without_org_id_is_declared_reference_or_local():
    _, without_org = tables()
    declared = set(REFERENCE_TABLES) | set(LOCAL_TABLES)
    assert not set(REFERENCE_TABLES) & set(LOCAL_TABLES)
    assert without_org - declared == set(), WHAT_TO_DO
    assert declared - without_org == set(), "declared in dos/citus.py but no such table without org_id: remove it"


@pytest.mark.django_db
def test_every_tenant_primary_key_and_unique_index_includes_org_id():
    distributed, _ = tables()
    unique = [(table, index, primary, columns) for table, index, primary, columns in catalog(UNIQUE_SQL)
              if table in distributed]
    assert {table for table, _, primary, _ in unique if primary} == distributed, "a tenant table without a primary key"
    offenders = [(table, index, columns) for table, index, _, columns in unique if "org_id" not in columns]
    assert offenders == [], "every primary key and unique index of a tenant table must include org_id"
    composite = {table: columns for table, _, primary, columns in unique if primary}
    assert all(columns[0] == "org_id" and len(columns) == 2 for columns in composite.values()), composite


@pytest.mark.django_db
def test_foreign_keys_between_tenant_tables_are_composite_on_org_id():
    distributed, _ = tables()
    offenders, seen = [], 0
    for table, name, target, columns, target_columns, deferred in catalog(FK_SQL):
        if table in distributed and target in distributed:
            seen += 1
            pairs = dict(zip(columns, target_columns, strict=True))
            if pairs.get("org_id") != "org_id" or len(pairs) != 2 or not deferred:
                offenders.append((table, name, columns, target, target_columns))
    assert seen >= 35
    assert offenders == [], "declare the field as dos.citus.TenantForeignKey and add CompositeForeignKey"


@pytest.mark.django_db
def test_tenant_tables_reference_their_org_and_nothing_points_from_shared_tables_into_tenant_data():
    distributed, _ = tables()
    reference, local = set(REFERENCE_TABLES), set(LOCAL_TABLES)
    offenders = []
    for table, name, target, columns, _, _ in catalog(FK_SQL):
        if table in distributed and target == "tenancy_org" and columns != ["org_id"]:
            offenders.append((table, name, "a tenant table refers to an org other than its own column org_id"))
        if table in distributed and target in local:
            offenders.append((table, name, "a tenant table refers to a coordinator-only table"))
        if table in reference and target not in reference:
            offenders.append((table, name, "a reference table refers to a tenant or local table"))
        if table in local and target in distributed:
            offenders.append((table, name, "a local table refers to a tenant table"))
    assert offenders == []


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_a_reference_to_another_orgs_row():
    import psycopg
    from django.db import IntegrityError

    from tests.factories import default_project

    acme, outsider = make_org("Acme Lending", slug="acme"), make_org("Outsider Co", slug="outsider")
    theirs = default_project(outsider)
    with pytest.raises(IntegrityError) as refused, transaction.atomic(), scope.org_scope(acme.id), connection.cursor() as cur:
        # An environment of Acme pointing at Outsider's project: checked at COMMIT (deferred).
        cur.execute("INSERT INTO tenancy_environment (id, org_id, project_id, kind, created_at) "
                    "VALUES (gen_random_uuid(), %s, %s, 'dev', now())", [acme.id, theirs.id])
    assert isinstance(refused.value.__cause__, psycopg.errors.ForeignKeyViolation)


def blocked_on_a_lock(deadline_s: float = 30) -> bool:
    """True once another session of this database waits on a row lock (read from pg_stat_activity)."""
    import time

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
            if cur.fetchone()[0]:
                return True
    return False


def in_thread(work, *, hold: threading.Event | None = None) -> tuple[threading.Thread, list, threading.Event]:
    """Run ``work()`` in its own connection and transaction; keep the transaction open until ``hold``."""
    result, done_work = [], threading.Event()

    def run():
        try:
            with transaction.atomic():
                result.append(work())
                done_work.set()
                if hold is not None:
                    hold.wait(timeout=30)
        finally:
            done_work.set()
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result, done_work


def take(org_id):
    with scope.org_scope(org_id):
        return org_counter_take(org_id=org_id, name="test.series")


@pytest.mark.django_db(transaction=True)
def test_the_org_counter_hands_out_distinct_consecutive_numbers_under_concurrency():
    acme, outsider = make_org("Acme Lending", slug="acme"), make_org("Outsider Co", slug="outsider")
    release = threading.Event()
    holder, first, first_done = in_thread(lambda: take(acme.id), hold=release)
    assert first_done.wait(timeout=30) and first == [[1]]
    waiter, second, _ = in_thread(lambda: take(acme.id))
    # The second writer of the same org waits on the counter row until the first commits …
    assert blocked_on_a_lock()
    assert second == []
    # … while another org is never held up.
    with transaction.atomic():
        assert take(outsider.id) == [1]
    release.set()
    holder.join(timeout=30)
    waiter.join(timeout=30)
    assert (first, second) == ([[1]], [[2]])


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_number_is_handed_out_again():
    acme = make_org("Acme Lending", slug="acme")
    with transaction.atomic(), scope.org_scope(acme.id):
        assert org_counter_take(org_id=acme.id, name="test.series", count=3) == [1, 2, 3]
    with pytest.raises(RuntimeError), transaction.atomic(), scope.org_scope(acme.id):
        assert org_counter_take(org_id=acme.id, name="test.series") == [4]
        raise RuntimeError("the numbered row was not stored")
    with transaction.atomic(), scope.org_scope(acme.id):
        assert org_counter_take(org_id=acme.id, name="test.series") == [4]


@pytest.mark.django_db(transaction=True)
def test_the_org_counter_refuses_to_run_outside_a_transaction():
    acme = make_org("Acme Lending", slug="acme")
    with pytest.raises(RuntimeError, match="inside the transaction"):
        org_counter_take(org_id=acme.id, name="test.series")
