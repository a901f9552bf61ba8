"""Does a SQL statement name the org of every tenant table it reads? (docs/scale.md, "Routing")

A sharded database routes a statement to one node only when each distributed table in it is tied
to one org: ``<alias>.org_id = <value>`` (or ``IN (<values>)``, ``= ANY(<array>)``), or a join
``<alias>.org_id = <other>.org_id`` to a table that is itself tied. ``tenancy_org`` is distributed
by its primary key, so there the column is ``id``. INSERT targets carry ``org_id`` as a value and
are exempt; what an INSERT reads (``INSERT … SELECT``) is not.

The check reads the SQL text as Django and this codebase write it (quoted or bare identifiers,
``"table" alias``, parameters as ``%s``). Anything it cannot tie to an org is reported: it errs on
the side of flagging.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

KEYWORDS = {
    "as", "on", "where", "inner", "left", "right", "full", "outer", "cross", "join", "set", "group",
    "order", "limit", "offset", "for", "union", "using", "returning", "window", "having", "values",
    "select", "from", "and", "or", "not", "natural", "lateral", "except", "intersect", "with",
    "fetch", "into", "default", "conflict", "do", "update", "delete", "insert", "when", "then",
}
_IDENT = r'(?:"\w+"|[A-Za-z_]\w*)'
_REF = rf"(?:({_IDENT})\.)?\"?(\w+)\"?"
_VALUE = r"(?:%s|%\(\w+\)s|'\?'|\$\d+)(?:::\w+(?:\[\])?)?"
_PIN = re.compile(rf"{_REF}\s*(?:=\s*\(?\s*{_VALUE}|IN\s*\(\s*{_VALUE}|=\s*ANY\s*\(\s*{_VALUE})", re.I)
_EDGE = re.compile(rf"({_IDENT})\.\"?(\w+)\"?\s*=\s*\(?\s*({_IDENT})\.\"?(\w+)\"?")


def _bare(identifier: str | None) -> str | None:
    return identifier.strip('"') if identifier else identifier


def statements(sql: str) -> list[str]:
    """The statements of one execute() call (dos.sqlbatch joins several with ``;``)."""
    text = re.sub(r"'(?:[^']|'')*'", "'?'", sql)  # literals cannot name tables or columns
    return [part.strip() for part in text.split(";") if part.strip()]


def table_refs(statement: str, tables: Iterable[str]) -> list[tuple[int, str, str]]:
    """``(position, table, alias)`` for every reference to one of ``tables`` (INSERT targets excluded)."""
    names = "|".join(sorted(map(re.escape, tables), key=len, reverse=True))
    found = []
    pattern = re.compile(rf'(?<![\w."])("?)({names})\1(?![\w."])(?:\s+(?:AS\s+)?("?)([A-Za-z_]\w*)\3)?', re.I)
    for match in pattern.finditer(statement):
        before = statement[:match.start()].rstrip()
        if re.search(r"\bINTO$", before, re.I):
            continue
        table, alias = match.group(2), match.group(4)
        if not alias or alias.lower() in KEYWORDS:
            alias = table
        found.append((match.start(), table, alias))
    return found


def unpinned(sql: str, org_columns: dict[str, str]) -> list[str]:
    """The ``table alias`` references in ``sql`` not tied to one org (empty when it routes).

    ``org_columns`` maps every tenant table to the column that names its org."""
    return [problem for statement in statements(sql) for problem in _unpinned_in(statement, org_columns)]


def _unpinned_in(statement: str, org_columns: dict[str, str]) -> list[str]:
    refs = table_refs(statement, org_columns)
    columns = {alias: org_columns[table] for _start, table, alias in refs}
    parent = {alias: alias for alias in columns}

    def root(alias):
        while parent[alias] != alias:
            alias = parent[alias]
        return alias

    pinned = set()
    for match in _PIN.finditer(statement):
        alias, column = _bare(match.group(1)), match.group(2)
        if alias is None:
            # Unqualified: the column of the nearest table named before it (its FROM clause).
            before = [a for start, _table, a in refs if start < match.start()]
            alias = before[-1] if before else None
        if alias in columns and columns[alias] == column:
            pinned.add(alias)
    for match in _EDGE.finditer(statement):
        a, ca, b, cb = _bare(match.group(1)), match.group(2), _bare(match.group(3)), match.group(4)
        if a in columns and b in columns and columns[a] == ca and columns[b] == cb:
            parent[root(a)] = root(b)
    tied = {root(alias) for alias in pinned}
    return [f"{table} {alias}" for _start, table, alias in refs if root(alias) not in tied]
