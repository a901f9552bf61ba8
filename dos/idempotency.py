"""Idempotency-Key for write endpoints (SPEC §7).

The key row is inserted in the request's own transaction, before the work. A concurrent duplicate's
INSERT … ON CONFLICT waits on the unique index until the first transaction ends: if it committed,
the duplicate reads the stored response (exactly one effect); if it rolled back (an error
response), the duplicate proceeds as a first attempt. Only successful responses are stored.

Some fields are shown once and must never sit in this store (an API key's secret): the view wraps
its body with ``never_replayed(body, "secret")``. The stored copy leaves those fields out and lists
them under ``replay_omitted``, so a replay answers the same status with the rest of the body and
says plainly what it cannot repeat.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from dos.api.errors import Problem

HEADER = "Idempotency-Key"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETENTION = timedelta(hours=24)
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


REPLAY_OMITTED = "replay_omitted"


class NeverReplayed(dict):
    """A response body that names the top-level fields never stored for replay."""

    def __init__(self, body: dict, fields: tuple[str, ...]):
        super().__init__(body)
        self.never_replayed = fields


def never_replayed(body: dict, *fields: str) -> NeverReplayed:
    """Mark ``fields`` of a response body as shown once: an Idempotency-Key replay leaves them out."""
    return NeverReplayed(body, fields)


def replay_copy(body):
    """What the store keeps of a response body: without its shown-once fields, naming them instead."""
    fields = getattr(body, "never_replayed", ())
    if not fields or not isinstance(body, dict):
        return body
    kept = {k: v for k, v in body.items() if k not in fields}
    kept[REPLAY_OMITTED] = sorted(f for f in fields if f in body)
    return kept


@dataclass(frozen=True)
class Pending:
    org_id: object
    row_id: int


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: object


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\n", path.encode(), b"\n", body):
        digest.update(part)
    return digest.hexdigest()


def idempotency_begin(*, org_id, key: str, method: str, path: str, body: bytes) -> Pending | Replay:
    if not _KEY_RE.match(key):
        raise Problem(400, "invalid_idempotency_key", "Idempotency-Key must be 1-255 printable ASCII characters.")
    fingerprint = request_fingerprint(method, path, body)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO dos_idempotencykey (org_id, key, method, path, request_hash, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (org_id, key) DO NOTHING RETURNING id",
            [org_id, key, method, path[:300], fingerprint, timezone.now()],
        )
        row = cur.fetchone()
        if row:
            return Pending(org_id=org_id, row_id=row[0])
        cur.execute(
            "SELECT request_hash, status_code, response_body FROM dos_idempotencykey WHERE org_id = %s AND key = %s",
            [org_id, key],
        )
        stored_hash, status_code, body_json = cur.fetchone()
    if stored_hash != fingerprint:
        raise Problem(422, "idempotency_key_reused",
                      "This Idempotency-Key was used with a different request; use a new key for a new request.")
    if status_code is None:
        raise Problem(409, "idempotency_in_progress", "A request with this Idempotency-Key is still being processed.")
    # Django configures psycopg to hand jsonb to raw cursors as text.
    body = json.loads(body_json) if isinstance(body_json, str) else body_json
    return Replay(status_code=status_code, body=body)


def idempotency_complete(pending: Pending, *, status_code: int, body) -> None:
    with connection.cursor() as cur:
        cur.execute("UPDATE dos_idempotencykey SET status_code = %s, response_body = %s::jsonb "
                    "WHERE org_id = %s AND id = %s",
                    [status_code, json.dumps(replay_copy(body), default=str, ensure_ascii=False), pending.org_id,
                     pending.row_id])


def idempotency_purge(*, older_than: timedelta = RETENTION) -> int:
    """Delete keys past retention in the current scope (the beat job runs it in platform scope)."""
    with connection.cursor() as cur:
        cur.execute("DELETE FROM dos_idempotencykey WHERE created_at < %s", [timezone.now() - older_than])
        return cur.rowcount
