"""Several SQL statements in one round trip, and model instances built from their rows.

The hot API paths (API-key authentication, /decide) are bounded by round trips to PostgreSQL, not
by the statements themselves. The connection uses client-side binding (psycopg's ClientCursor), so
statements joined with ``;`` travel as one simple query and each result set is read in turn.

Only for fixed, parameterised statements written in this codebase — never for text a caller sent.

Bulk inserts go the other way: client-side binding quotes every array element in Python, which
dominates a 1,000-row insert; ``bound_cursor`` sends the parameters separately (server-side binding,
in binary form, which psycopg's C dumpers write without quoting) on the same connection and transaction.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Sequence

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, models


def execute_batch(statements: Sequence[tuple[str, Sequence]]) -> list[list[tuple]]:
    """Run ``[(sql, params), …]`` in one round trip; return each statement's rows (``[]`` if none)."""
    sql = ";\n".join(statement for statement, _ in statements)
    params: list = []
    for _, values in statements:
        params.extend(values)
    results: list[list[tuple]] = []
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for index in range(len(statements)):
            results.append(cur.fetchall() if cur.description is not None else [])
            if index < len(statements) - 1:
                cur.nextset()
    return results


def select_columns(model, alias: str = "") -> str:
    """The quoted column list that ``hydrate`` expects, in field order."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{field.column}"' for field in model._meta.concrete_fields)


def hydrate(model, row: tuple):
    """A model instance from a row selected with ``select_columns`` (values converted as the ORM would)."""
    fields = model._meta.concrete_fields
    values = []
    for field, value in zip(fields, row, strict=True):
        converters = field.get_db_converters(connection)
        for converter in converters:
            value = converter(value, field, connection)
        values.append(value)
    return model.from_db(DEFAULT_DB_ALIAS, [field.attname for field in fields], values)


class _WatchedCursor:
    """A psycopg cursor whose statements pass through the connection's execute wrappers, as the
    ORM's do — so whatever watches statements (the API's write watch deciding whether a lost
    connection may be retried, query capture in tests) sees these too."""

    def __init__(self, cursor: psycopg.Cursor):
        self._cursor = cursor

    def _run(self, sql, params, many, context):
        return (self._cursor.executemany if many else self._cursor.execute)(sql, params)

    def _through_wrappers(self, sql, params, many: bool):
        run = self._run
        for wrapper in reversed(connection.execute_wrappers):
            run = functools.partial(wrapper, run)
        run(sql, params, many, {"connection": connection, "cursor": self})
        return self

    def execute(self, sql, params=None):
        return self._through_wrappers(sql, params, False)

    def executemany(self, sql, params_seq):
        return self._through_wrappers(sql, params_seq, True)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


@contextlib.contextmanager
def bound_cursor():
    """A cursor on Django's connection (and its open transaction) that binds parameters server-side."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cur:
        yield _WatchedCursor(cur)


def sequence_values(sequence_sql: str, count: int) -> list[int]:
    """``count`` fresh values of a sequence in one round trip (``sequence_sql`` is a trusted SQL
    expression naming it, e.g. a pg_get_serial_sequence call, or a sequence's name quoted)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT nextval({sequence_sql}) FROM generate_series(1, %s)", [count])
        return [row[0] for row in cur.fetchall()]


def bulk_insert(model, objs: Sequence) -> None:
    """INSERT many instances in one statement from one array parameter per column (no RETURNING;
    instances carry their primary keys — auto-increment ones are drawn from the column's sequence
    first, in one query). Faster than ``bulk_create`` for wide rows."""
    if not objs:
        return
    pk = model._meta.pk
    missing = [obj for obj in objs if obj.pk is None]
    if missing and isinstance(pk, models.AutoField):
        for obj, value in zip(missing, sequence_values(f"pg_get_serial_sequence('{model._meta.db_table}', "
                                                       f"'{pk.column}')", len(missing)), strict=True):
            obj.pk = value
    fields = list(model._meta.concrete_fields)
    columns, selects, arrays, params = [], [], [], []
    for index, field in enumerate(fields):
        columns.append(f'"{field.column}"')
        if isinstance(field, models.JSONField):
            # jsonb[] would need a dumper per element; text cast to jsonb in the SELECT is the same value.
            selects.append(f"c{index}::jsonb")
            arrays.append("%b::text[]")
            params.append([None if (value := getattr(obj, field.attname)) is None
                           else json.dumps(value, cls=field.encoder) for obj in objs])
        else:
            selects.append(f"c{index}")
            arrays.append(f"%b::{field.db_type(connection)}[]")
            params.append([field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in objs])
    aliases = ", ".join(f"c{i}" for i in range(len(fields)))
    sql = (f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(selects)} "
           f"FROM unnest({', '.join(arrays)}) AS x({aliases})")
    with bound_cursor() as cur:
        cur.execute(sql, params)
