"""Per-org counters for user-visible numbers (case numbers now, invoice numbers next).

A global sequence would number one org's cases 1, 4, 9 … and, once the data is sharded by org, would
need a round trip to one node for every number. Each org instead has one ``dos_orgcounter`` row per
series, advanced by ``INSERT … ON CONFLICT (org_id, name) DO UPDATE … RETURNING``: the row lock is
held until the caller's transaction ends, so writers in one org take turns (other orgs never wait),
and the numbers are gapless — a rolled-back transaction rolls its numbers back with it.
"""

from __future__ import annotations

import uuid

from django.db import connection

_ADVANCE = (
    "INSERT INTO dos_orgcounter (org_id, name, value) VALUES (%s, %s, %s) "
    "ON CONFLICT (org_id, name) DO UPDATE SET value = dos_orgcounter.value + EXCLUDED.value "
    "RETURNING value"
)


def org_counter_take(*, org_id: uuid.UUID, name: str, count: int = 1) -> list[int]:
    """The next ``count`` numbers of the org's series ``name`` (1, 2, … for a new series), in one
    round trip. Call it inside the transaction that stores the numbered rows: the counter row stays
    locked until that transaction ends, which is what keeps the numbers unique and gapless."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if not connection.in_atomic_block:
        raise RuntimeError("org_counter_take must run inside the transaction that stores the numbered rows.")
    with connection.cursor() as cur:
        cur.execute(_ADVANCE, [org_id, name, count])
        (last,) = cur.fetchone()
    return list(range(last - count + 1, last + 1))
