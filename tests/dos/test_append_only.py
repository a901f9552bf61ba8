"""Recorded facts are append-only in the database (SPEC §8, §13): the application role can add
rows to these tables but never change or remove them, even with full table privileges."""

from contextlib import contextmanager

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from decisions.models import PolicyVersion
from dos import scope
from dos.append_only import APP_ROLE, app_role_sql
from dos.ledger import _APPEND_SQL, GENESIS, ledger_append
from dos.models import ChainHead
from dos.tasks import ledger_anchor_daily
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import make_key

# table, a change an attacker would want, and which row (a submitted policy version; any other row)
PROTECTED = [
    ("dos_ledgerentry", "action = 'rewritten'", "TRUE"),
    ("dos_chainanchor", "hash = repeat('0', 64)", "TRUE"),
    ("dos_chainhead", "seq = seq - 1", "TRUE"),
    ("decisions_decisionrecord", "outcome = 'approve'", "TRUE"),
    ("decisions_policyversion", "source = source || ' # changed'", "status <> 'draft'"),
    ("hitl_caseevent", "kind = 'rewritten'", "TRUE"),
    ("billing_meterevent", "value = value + 1", "TRUE"),
]


def _test_db_dsn(superuser_dsn: str) -> str:
    return superuser_dsn.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]


@contextmanager
def as_app_role(superuser_dsn: str, table: str):
    """A transaction on the suite's database as the application role, holding every privilege on
    ``table`` (as if a careless GRANT had given UPDATE and DELETE back); rolled back afterwards."""
    with psycopg.connect(_test_db_dsn(superuser_dsn)) as conn:
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
        conn.execute(f"SET LOCAL ROLE {APP_ROLE}")
        conn.execute("SELECT set_config('dos.platform', 'on', true)")
        try:
            yield conn
        finally:
            conn.rollback()


@pytest.fixture
def recorded_facts(acme, lending, desk):
    """Acme after one review decision: a decision record, its chain entries and head, a meter
    event, a case with its events, and the day's anchors."""
    lender = api_client(make_key(acme, scopes=["decisions.run", "decisions.read"], name="lender"))
    response = decide(lender, documents_missing=["income_proof"])
    assert response.json()["outcome"] == "review"
    ledger_anchor_daily()
    return acme


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("table", "change", "which"), PROTECTED, ids=[t for t, _, _ in PROTECTED])
@pytest.mark.parametrize("verb", ["UPDATE", "DELETE"])
def test_the_app_role_can_neither_update_nor_delete_a_recorded_fact(recorded_facts, superuser_dsn, table, change,
                                                                    which, verb):
    statement = (f"UPDATE {table} SET {change}" if verb == "UPDATE" else f"DELETE FROM {table}") + \
        f" WHERE id = (SELECT id FROM {table} WHERE org_id = %s AND {which} ORDER BY id LIMIT 1)"
    with as_app_role(superuser_dsn, table) as conn:
        [current] = conn.execute("SELECT current_user").fetchone()
        [rows] = conn.execute(f"SELECT count(*) FROM {table} WHERE org_id = %s AND {which}",
                              [recorded_facts.id]).fetchone()
        assert (current, rows > 0) == (APP_ROLE, True)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement, [recorded_facts.id])


@pytest.mark.parametrize(("table", "update_columns"), [
    ("dos_ledgerentry", ()), ("dos_chainanchor", ()), ("decisions_decisionrecord", ()), ("hitl_caseevent", ()),
    ("billing_meterevent", ()), ("dos_chainhead", ("seq", "hash", "updated_at")),
])
@pytest.mark.django_db
def test_the_migrations_take_update_and_delete_away_from_the_app_role(superuser_dsn, table, update_columns):
    with psycopg.connect(_test_db_dsn(superuser_dsn)) as conn:
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {table} TO {APP_ROLE}")
        conn.execute(app_role_sql(table, update_columns))

        def has(privilege: str) -> bool:
            return conn.execute("SELECT has_table_privilege(%s, %s, %s)", [APP_ROLE, table, privilege]).fetchone()[0]

        def updatable_columns() -> set[str]:
            return {c for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND has_column_privilege(%s, %s, column_name, 'UPDATE')", [table, APP_ROLE, table]).fetchall()}

        try:
            assert {p: has(p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")} == {
                "SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False, "TRUNCATE": False}
            assert updatable_columns() == set(update_columns)
        finally:
            conn.rollback()


@pytest.mark.django_db
def test_a_chain_head_advances_but_never_goes_back_nor_points_past_the_chain(acme):
    with scope.org_scope(acme.id):
        appended = [ledger_append(chain="audit", org_id=acme.id, action="test.event", actor="system:test")
                    for _ in range(2)]
        head = ChainHead.objects.get(chain="audit")
        assert (head.seq, head.hash) == (appended[-1].seq, appended[-1].hash)
        with pytest.raises(DatabaseError, match="may only advance"), transaction.atomic():
            ChainHead.objects.filter(pk=head.pk).update(seq=F("seq") - 1)
        with pytest.raises(DatabaseError, match="may only advance"), transaction.atomic():
            ChainHead.objects.filter(pk=head.pk).update(hash="f" * 64)
        with pytest.raises(DatabaseError, match="keeps its org and chain"), transaction.atomic():
            ChainHead.objects.filter(pk=head.pk).update(chain="billing")
        with pytest.raises(DatabaseError, match="never removed"), transaction.atomic():
            ChainHead.objects.filter(pk=head.pk).delete()
        # Checked at COMMIT (the entry is inserted in the same statement); made immediate here.
        with pytest.raises(DatabaseError, match="no entry has"), transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SET CONSTRAINTS chainhead_points_at_entry IMMEDIATE")
            ChainHead.objects.filter(pk=head.pk).update(seq=F("seq") + 1, hash="e" * 64)


@pytest.mark.django_db
def test_a_draft_can_change_but_a_submitted_version_keeps_its_source(acme, lending):
    with scope.org_scope(acme.id):
        draft = PolicyVersion.objects.create(
            org_id=acme.id, policy_set=lending.policy_set, semver="9.9.9", source=lending.source,
            sha256=lending.sha256, author_id=lending.author_id)
        PolicyVersion.objects.filter(pk=draft.pk).update(source=lending.source + "\n# draft edit", sha256="d" * 64)
        published = PolicyVersion.objects.filter(pk=lending.pk)
        published.update(notes="the lifecycle columns still move")
        with pytest.raises(DatabaseError, match="never change"), transaction.atomic():
            published.update(source=lending.source + "\n# sneaky")
        with pytest.raises(DatabaseError, match="never change"), transaction.atomic():
            published.update(sha256="0" * 64)
        with pytest.raises(DatabaseError, match="never change"), transaction.atomic():
            published.update(status="draft")
        with pytest.raises(DatabaseError, match="cannot be deleted"), transaction.atomic():
            published.delete()
        published.update(status="retired", retired_at=timezone.now())
        PolicyVersion.objects.filter(pk=draft.pk).delete()
        assert not PolicyVersion.objects.filter(pk=draft.pk).exists()
        assert PolicyVersion.objects.get(pk=lending.pk).status == "retired"


@pytest.mark.django_db(transaction=True)
def test_the_app_role_still_appends_with_only_the_privileges_the_migrations_leave(acme, superuser_dsn):
    """Production's default privileges give the app role DML on every table; after the migrations'
    REVOKEs an append (head lock, head advance, entry insert) still works as that role."""
    tables = [("dos_ledgerentry", ()), ("dos_chainanchor", ()), ("dos_chainhead", ("seq", "hash", "updated_at"))]
    now = timezone.now()
    with psycopg.connect(_test_db_dsn(superuser_dsn)) as conn:
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
        conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
        for table, columns in tables:
            conn.execute(app_role_sql(table, columns))
        conn.execute(f"SET LOCAL ROLE {APP_ROLE}")
        conn.execute("SELECT set_config('dos.org_id', %s, true)", [str(acme.id)])
        try:
            conn.execute("INSERT INTO dos_chainhead (org_id, chain, seq, hash, updated_at) VALUES (%s, 'billing', 0, %s, "
                         "%s) ON CONFLICT (org_id, chain) DO NOTHING", [acme.id, GENESIS, now])
            params = {"org": acme.id, "chain": "billing", "content_hash": "c" * 64, "created_at": now,
                      "action": "test.append", "actor": "system:test", "target": "", "data": "{}", "corr_id": ""}
            [(_id, seq, _hash)] = conn.execute(_APPEND_SQL, params).fetchall()
            assert seq == 1
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute("UPDATE dos_chainhead SET org_id = org_id WHERE chain = 'billing'")
        finally:
            conn.rollback()



def test_a_wholesale_grant_is_followed_by_the_protected_tables_revokes(superuser_dsn):
    """devstack grants the app role every table on each start; the recorded facts lose UPDATE and
    DELETE again right after (the head keeps its advancing columns)."""
    from dos.append_only import PROTECTED_TABLES, protected_tables_sql

    with psycopg.connect(_test_db_dsn(superuser_dsn), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone():
            pytest.fail(f"the app role {APP_ROLE} is missing on the test server")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
        assert conn.execute("SELECT has_table_privilege(%s, 'dos_ledgerentry', 'UPDATE')", [APP_ROLE]).fetchone()[0]
        conn.execute(protected_tables_sql())
        for table, columns in PROTECTED_TABLES.items():
            [update, delete, insert] = conn.execute(
                "SELECT has_table_privilege(%s, %s, 'UPDATE'), has_table_privilege(%s, %s, 'DELETE'), "
                "has_table_privilege(%s, %s, 'INSERT')", [APP_ROLE, table] * 3).fetchone()
            assert (update, delete, insert) == (False, False, True), table
            for column in columns:
                assert conn.execute("SELECT has_column_privilege(%s, %s, %s, 'UPDATE')",
                                    [APP_ROLE, table, column]).fetchone()[0], (table, column)
        assert conn.execute("SELECT has_table_privilege(%s, 'hitl_case', 'UPDATE')", [APP_ROLE]).fetchone()[0]
