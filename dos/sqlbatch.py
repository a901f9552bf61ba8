"""Several SQL statements in one round trip, and model instances built from their rows.

The hot API paths (API-key authentication, /decide) are bounded by round trips to PostgreSQL, not
by the statements themselves. The connection uses client-side binding (psycopg's ClientCursor), so
statements joined with ``;`` travel as one simple query and each result set is read in turn.

Only for fixed, parameterised statements written in this codebase — never for text a caller sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connection


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
