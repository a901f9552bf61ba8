"""The append-only hash chain per (chain, org) — SPEC §8. One mechanism for every chain.

    content_hash = sha256(canonical_json(content))
    hash         = sha256(prev_hash || content_hash)      (genesis prev_hash = 64 × "0")

``ledger_append`` locks the chain head row (SELECT … FOR UPDATE) inside the caller's transaction,
so concurrent writers queue on the head and can never fork the chain, and a rolled-back write
leaves no gap. The content hash is computed before the lock; lock, link and insert are one
statement. ``chain_verify`` walks a chain and names the first entry whose content, link or
sequence does not check out.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from django.db import connection, transaction
from django.utils import timezone

from dos.canonical import canonical_json, sha256_hex
from dos.sqlbatch import bound_cursor

GENESIS = "0" * 64
CHAINS = ("audit", "decisions", "billing")


def _content(*, chain: str, org_id, action: str, actor: str, target: str, data: dict, corr_id: str,
             created_at: datetime) -> dict:
    # The sequence number is not part of the content: order is bound by prev_hash (and checked for
    # gaps by chain_verify), which lets the content hash be computed before the head is locked.
    return {
        "chain": chain, "org_id": str(org_id), "action": action, "actor": actor, "target": target, "data": data,
        "corr_id": corr_id, "created_at": created_at.astimezone(dt.UTC).isoformat(),
    }


def link_hash(prev_hash: str, content_hash: str) -> str:
    return sha256_hex(prev_hash + content_hash)


@dataclass(frozen=True)
class Appended:
    id: int
    seq: int
    hash: str


def current_corr_id() -> str:
    return str(structlog.contextvars.get_contextvars().get("corr_id", ""))[:64]


# One statement: lock the head, advance it with the link hash computed by PostgreSQL
# (sha256(prev_hash || content_hash), the same as link_hash), and insert the entry. The head row
# lock is held only for this statement and the commit, so concurrent writers queue briefly.
_APPEND_SQL = """
WITH old AS (
    SELECT seq, hash FROM dos_chainhead WHERE org_id = %(org)s AND chain = %(chain)s FOR UPDATE
), new AS (
    UPDATE dos_chainhead AS h
       SET seq = old.seq + 1,
           hash = encode(sha256(convert_to(old.hash || %(content_hash)s, 'UTF8')), 'hex'),
           updated_at = %(created_at)s
      FROM old
     WHERE h.org_id = %(org)s AND h.chain = %(chain)s
    RETURNING h.seq, h.hash, old.hash AS prev_hash
)
INSERT INTO dos_ledgerentry (org_id, chain, seq, action, actor, target, data, corr_id, created_at, content_hash,
                             prev_hash, hash)
SELECT %(org)s, %(chain)s, new.seq, %(action)s, %(actor)s, %(target)s, %(data)s::jsonb, %(corr_id)s, %(created_at)s,
       %(content_hash)s, new.prev_hash, new.hash
  FROM new
RETURNING id, seq, hash
"""


def ledger_append(*, chain: str, org_id: uuid.UUID, action: str, actor: str, target: str = "",
                  data: dict | None = None, corr_id: str | None = None) -> Appended:
    """Append one entry to ``chain`` of ``org_id`` in the current transaction (or a new one)."""
    if chain not in CHAINS:
        raise ValueError(f"unknown chain '{chain}'")
    data = data or {}
    corr_id = current_corr_id() if corr_id is None else corr_id
    actor, target = actor[:120], target[:200]
    created_at = timezone.now()
    content_hash = sha256_hex(canonical_json(_content(
        chain=chain, org_id=org_id, action=action, actor=actor, target=target, data=data, corr_id=corr_id,
        created_at=created_at)))
    params = {"org": org_id, "chain": chain, "content_hash": content_hash, "created_at": created_at,
              "action": action, "actor": actor, "target": target, "data": canonical_json(data), "corr_id": corr_id}
    # No savepoint: the append is one statement, atomic by itself; inside a caller's transaction a
    # failure aborts that transaction anyway.
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        cur.execute(_APPEND_SQL, params)
        row = cur.fetchone()
        if row is None:
            # First entry of this chain for this org (or the scope hides the head: then the insert fails).
            cur.execute(
                "INSERT INTO dos_chainhead (org_id, chain, seq, hash, updated_at) VALUES (%s, %s, 0, %s, %s) "
                "ON CONFLICT (org_id, chain) DO NOTHING",
                [org_id, chain, GENESIS, created_at],
            )
            cur.execute(_APPEND_SQL, params)
            row = cur.fetchone()
        if row is None:
            raise PermissionError(f"chain '{chain}' of org {org_id} is outside the current scope")
    entry_id, seq, entry_hash = row
    return Appended(id=entry_id, seq=seq, hash=entry_hash)


@dataclass(frozen=True)
class Entry:
    action: str
    actor: str
    target: str = ""
    data: dict | None = None


_INSERT_MANY = """
INSERT INTO dos_ledgerentry (org_id, chain, seq, action, actor, target, data, corr_id, created_at, content_hash,
                             prev_hash, hash)
SELECT %(org)s, %(chain)s, x.seq, x.action, x.actor, x.target, x.data::jsonb, %(corr_id)s, %(created_at)s, x.ch,
       x.prev, x.h
  FROM unnest(%(seq)b::bigint[], %(action)b::text[], %(actor)b::text[], %(target)b::text[], %(data)b::text[],
              %(ch)b::text[], %(prev)b::text[], %(h)b::text[]) AS x(seq, action, actor, target, data, ch, prev, h)
RETURNING id, seq, hash
"""


def ledger_append_many(*, chain: str, org_id: uuid.UUID, entries: list[Entry],
                       corr_id: str | None = None) -> list[Appended]:
    """Append several entries under one head lock (batch decisions): the links are computed in
    Python with the same formula PostgreSQL uses in ledger_append."""
    if chain not in CHAINS:
        raise ValueError(f"unknown chain '{chain}'")
    if not entries:
        return []
    corr_id = current_corr_id() if corr_id is None else corr_id
    created_at = timezone.now()
    prepared = []
    for e in entries:
        data = e.data or {}
        content_hash = sha256_hex(canonical_json(_content(
            chain=chain, org_id=org_id, action=e.action, actor=e.actor[:120], target=e.target[:200], data=data,
            corr_id=corr_id, created_at=created_at)))
        prepared.append((e, data, content_hash))
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO dos_chainhead (org_id, chain, seq, hash, updated_at) VALUES (%s, %s, 0, %s, %s) "
            "ON CONFLICT (org_id, chain) DO NOTHING", [org_id, chain, GENESIS, created_at])
        cur.execute("SELECT seq, hash FROM dos_chainhead WHERE org_id = %s AND chain = %s FOR UPDATE", [org_id, chain])
        row = cur.fetchone()
        if row is None:
            raise PermissionError(f"chain '{chain}' of org {org_id} is outside the current scope")
        seq, prev = row
        cols = {k: [] for k in ("seq", "action", "actor", "target", "data", "ch", "prev", "h")}
        for e, data, content_hash in prepared:
            seq += 1
            entry_hash = link_hash(prev, content_hash)
            for key, value in (("seq", seq), ("action", e.action), ("actor", e.actor[:120]), ("target", e.target[:200]),
                               ("data", canonical_json(data)), ("ch", content_hash), ("prev", prev), ("h", entry_hash)):
                cols[key].append(value)
            prev = entry_hash
        with bound_cursor() as bound:  # 1,000-element arrays: bind them server-side, unquoted
            bound.execute(_INSERT_MANY, {"org": org_id, "chain": chain, "corr_id": corr_id, "created_at": created_at,
                                         **cols})
            rows = sorted(bound.fetchall(), key=lambda r: r[1])
        cur.execute("UPDATE dos_chainhead SET seq = %s, hash = %s, updated_at = %s WHERE org_id = %s AND chain = %s",
                    [seq, prev, created_at, org_id, chain])
    return [Appended(id=i, seq=q, hash=h) for i, q, h in rows]


@dataclass
class VerifyResult:
    org_id: str
    chain: str
    ok: bool
    checked: int
    head_seq: int
    first_bad_seq: int | None = None
    reason: str = ""
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"org_id": self.org_id, "chain": self.chain, "ok": self.ok, "checked": self.checked,
                "head_seq": self.head_seq, "first_bad_seq": self.first_bad_seq, "reason": self.reason}


def chain_verify(*, org_id, chain: str, batch: int = 5000) -> VerifyResult:
    """Recompute every entry of one chain; stop at the first one that does not check out."""
    result = VerifyResult(org_id=str(org_id), chain=chain, ok=True, checked=0, head_seq=0)
    with connection.cursor() as cur:
        cur.execute("SELECT seq, hash FROM dos_chainhead WHERE org_id = %s AND chain = %s", [org_id, chain])
        head = cur.fetchone()
    if head is None:
        return result
    result.head_seq, head_hash = head
    expected_seq, prev = 1, GENESIS
    last_seq = 0
    while True:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT seq, action, actor, target, data, corr_id, created_at, content_hash, prev_hash, hash "
                "FROM dos_ledgerentry WHERE org_id = %s AND chain = %s AND seq > %s ORDER BY seq LIMIT %s",
                [org_id, chain, last_seq, batch],
            )
            rows = cur.fetchall()
        if not rows:
            break
        for seq, action, actor, target, data, corr_id, created_at, content_hash, prev_hash, entry_hash in rows:
            if isinstance(data, str):
                data = json.loads(data)
            reason = ""
            if seq != expected_seq:
                reason = f"sequence gap: expected {expected_seq}, found {seq}"
            elif prev_hash != prev:
                reason = "prev_hash does not match the previous entry's hash"
            else:
                recomputed = sha256_hex(canonical_json(_content(
                    chain=chain, org_id=org_id, action=action, actor=actor, target=target, data=data,
                    corr_id=corr_id, created_at=created_at)))
                if recomputed != content_hash:
                    reason = "content does not match its content_hash (entry altered)"
                elif link_hash(prev_hash, content_hash) != entry_hash:
                    reason = "hash does not match prev_hash || content_hash"
            if reason:
                result.ok, result.first_bad_seq, result.reason = False, seq, reason
                return result
            result.checked += 1
            prev, expected_seq, last_seq = entry_hash, seq + 1, seq
    if result.checked != result.head_seq or prev != head_hash:
        result.ok = False
        result.first_bad_seq = result.checked + 1
        result.reason = f"head says seq {result.head_seq}, chain ends at {result.checked} (entries missing)"
    return result


def chains_in_scope(*, org_id=None, chain: str | None = None) -> list[tuple[str, str]]:
    """(org_id, chain) pairs visible in the current scope, optionally filtered."""
    sql = "SELECT org_id, chain FROM dos_chainhead WHERE TRUE"
    params: list = []
    if org_id:
        sql += " AND org_id = %s"
        params.append(org_id)
    if chain:
        sql += " AND chain = %s"
        params.append(chain)
    with connection.cursor() as cur:
        cur.execute(sql + " ORDER BY org_id, chain", params)
        return [(str(o), c) for o, c in cur.fetchall()]
