"""Several statements in one round trip (the hot paths' helper) and models built from its rows."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dos import scope
from dos.sqlbatch import execute_batch, hydrate, select_columns
from tenancy.models import ApiKey, Org
from tests.factories import make_key

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_statement_returns_its_own_rows_in_one_round_trip(acme, outsider):
    with scope.org_scope(acme.id), CaptureQueriesContext(connection) as queries:
        rows = execute_batch([
            ("SELECT set_config('dos.test', %s, true)", ["x"]),
            (f"SELECT {select_columns(Org)} FROM tenancy_org ORDER BY name", []),
            ("SELECT current_setting('dos.test'), %s::int", [7]),
        ])
    assert len(queries.captured_queries) == 1
    assert rows[0] == [("x",)]
    assert [hydrate(Org, row).id for row in rows[1]] == [acme.id]  # RLS applies: the outsider is not there
    assert rows[2] == [("x", 7)]


def test_hydrated_instances_equal_what_the_orm_loads(acme):
    make_key(acme, scopes=["decisions.run", "usage.read"])
    with scope.org_scope(acme.id):
        loaded = ApiKey.objects.get()
        (rows,) = execute_batch([(f"SELECT {select_columns(ApiKey)} FROM tenancy_apikey", [])])
        built = hydrate(ApiKey, rows[0])
    assert {f.attname: getattr(built, f.attname) for f in ApiKey._meta.concrete_fields} == {
        f.attname: getattr(loaded, f.attname) for f in ApiKey._meta.concrete_fields}
    assert built.scopes == ["decisions.run", "usage.read"] and not built._state.adding


def test_a_failing_statement_fails_the_whole_batch(acme):
    with pytest.raises(Exception, match="division by zero"), transaction.atomic():
        execute_batch([("SELECT 1", []), ("SELECT 1 / 0", [])])



def test_statements_on_a_bound_cursor_pass_the_connection_execute_wrappers(acme):
    """The API decides whether a lost connection may be retried by watching for writes; inserts
    sent with server-side binding (chain batches, bulk inserts) must not slip past it."""
    from dos.api.views import WriteWatch
    from dos.sqlbatch import bound_cursor

    watch = WriteWatch()
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("CREATE TEMP TABLE bound_probe (n int) ON COMMIT DROP")
        with connection.execute_wrapper(watch):
            with bound_cursor() as bound:
                bound.execute("SELECT count(*) FROM bound_probe")
                assert bound.fetchone() == (0,) and not watch.wrote
                bound.execute("INSERT INTO bound_probe VALUES (%s)", [1])
            assert watch.wrote
