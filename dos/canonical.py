"""Canonical JSON for hashing (RFC 8785 style): sorted keys, no whitespace, UTF-8, no NaN.

Floats are refused: amounts are strings or integers (Decimal → str), so every writer and every
verifier serialises the same bytes regardless of platform float formatting.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid


def _default(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (uuid.UUID,)):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not canonical-JSON serialisable")


def _check(value):
    if isinstance(value, float):
        raise TypeError("floats are not allowed in hashed content; use str or Decimal")
    if isinstance(value, str):
        if "\x00" in value:
            # PostgreSQL text and jsonb cannot hold NUL; refuse rather than silently alter content.
            raise ValueError("NUL characters cannot be stored in hashed content")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (JSON allows "\ud800") has no UTF-8 form, so it cannot be hashed.
            raise ValueError("invalid Unicode (lone surrogate) in hashed content") from None
    if isinstance(value, dict):
        for k, v in value.items():
            _check(k)
            _check(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check(v)


def canonical_json(value) -> str:
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default,
                      allow_nan=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
