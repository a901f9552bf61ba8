"""Gapless legal numbers per issuer, kind and year: ``DOS-2026-000123``, ``DOS-CN-2026-000007``.

One ``billing_documentseries`` row per (issuer, kind, year) advanced by ``INSERT … ON CONFLICT …
DO UPDATE … RETURNING`` inside the issuing transaction (the same statement as ``dos.counters``, on an
issuer-wide row): the row lock is held until that transaction ends, so issuers take turns and a
rolled-back issue hands its number back. Take the number last, just before the chain append, so the
lock is held for as short a time as possible.
"""

from __future__ import annotations

from django.db import connection

from billing.models import SeriesKind

FORMATS = {SeriesKind.INVOICE: "{issuer}-{year}-{n:06d}", SeriesKind.CREDIT_NOTE: "{issuer}-CN-{year}-{n:06d}"}

_ADVANCE = (
    "INSERT INTO billing_documentseries (issuer, kind, year, value) VALUES (%s, %s, %s, 1) "
    "ON CONFLICT (issuer, kind, year) DO UPDATE SET value = billing_documentseries.value + 1 "
    "RETURNING value"
)


def number_take(*, issuer: str, kind: str, year: int) -> str:
    """The next number of the series, formatted. Must run in the transaction that stores it."""
    if not connection.in_atomic_block:
        raise RuntimeError("number_take must run inside the transaction that issues the document.")
    with connection.cursor() as cur:
        cur.execute(_ADVANCE, [issuer, kind, year])
        (value,) = cur.fetchone()
    return FORMATS[kind].format(issuer=issuer, year=year, n=value)
