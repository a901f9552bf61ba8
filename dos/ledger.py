"""The append-only hash chain per (chain, org) — SPEC §8. One mechanism for every chain.

    content_hash = sha256(canonical_json(content))
    hash         = sha256(prev_hash || content_hash)      (genesis prev_hash = 64 × "0")

``ledger_append`` locks the chain head row (SELECT … FOR UPDATE) inside the caller's transaction,
so concurrent writers queue on the head and can never fork the chain, and a rolled-back write
leaves no gap. The content hash is computed before the lock; lock, link and insert are one
statement. ``chain_verify`` walks a chain and names the first entry whose content, link or
sequence does not check out, then holds the chain against its head, its anchors (``ChainAnchor``,
recorded daily) and the records chained on it (checks registered by the apps that own them).
The tables themselves are append-only (dos.append_only).
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
from dos.hooks import Hook
from dos.sqlbatch import bound_cursor

GENESIS = "0" * 64
CHAINS = ("audit", "decisions", "billing")


def entry_content(*, chain: str, org_id, action: str, actor: str, target: str, data: dict, corr_id: str,
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
    content_hash = sha256_hex(canonical_json(entry_content(
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
        content_hash = sha256_hex(canonical_json(entry_content(
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


@dataclass(frozen=True)
class RecordProblem:
    """A recorded fact that does not match the chain entry it was chained as."""

    kind: str
    record_id: str
    seq: int | None
    reason: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "record_id": self.record_id, "seq": self.seq, "reason": self.reason}


# Checks that compare an app's records with their chain entries, per chain: ``check(org_id=…)``
# returns (records checked, problems). Apps above dos register theirs in AppConfig.ready().
_record_checks: dict[str, list] = {}


def record_check_register(chain: str, check) -> None:
    if chain not in CHAINS:
        raise ValueError(f"unknown chain '{chain}'")
    if check not in _record_checks.setdefault(chain, []):
        _record_checks[chain].append(check)


# What verify reports, by failure: one name per way a chain or its records can be broken.
FAILURES = {
    "content_altered": "content does not match its content_hash (entry altered)",
    "hash_altered": "hash does not match prev_hash || content_hash (entry altered)",
    "sequence_gap": "sequence gap",
    "broken_link": "prev_hash does not match the previous entry's hash (broken link)",
    "anchor_mismatch": "entry differs from the anchored head at this seq (chain rewritten)",
    "truncated": "chain ends below an anchored head (tail truncated)",
    "missing_tail": "head is ahead of the last entry (entries missing)",
    "head_missing": "chain head missing",
    "emptied": "chain emptied: no entries, head or anchors left of a chain that was written to",
    "record_mismatch": "a record does not match its chain entry",
}


@dataclass
class VerifyResult:
    org_id: str
    chain: str
    ok: bool
    checked: int
    head_seq: int
    first_bad_seq: int | None = None
    reason: str = ""
    failure: str = ""
    records_checked: int = 0
    bad_records: list[RecordProblem] = field(default_factory=list)

    def fail(self, failure: str, seq: int | None, detail: str = "") -> VerifyResult:
        self.ok, self.failure, self.first_bad_seq = False, failure, seq
        self.reason = f"{FAILURES[failure]}: {detail}" if detail else FAILURES[failure]
        return self

    def as_dict(self) -> dict:
        return {"org_id": self.org_id, "chain": self.chain, "ok": self.ok, "checked": self.checked,
                "head_seq": self.head_seq, "first_bad_seq": self.first_bad_seq, "failure": self.failure,
                "reason": self.reason, "records_checked": self.records_checked,
                "bad_records": [p.as_dict() for p in self.bad_records]}


def _anchors(org_id, chain: str) -> dict[int, set[str]]:
    anchors: dict[int, set[str]] = {}
    with connection.cursor() as cur:
        cur.execute("SELECT seq, hash FROM dos_chainanchor WHERE org_id = %s AND chain = %s", [org_id, chain])
        for seq, anchored_hash in cur.fetchall():
            anchors.setdefault(seq, set()).add(anchored_hash)
    return anchors


# Chains that must exist, whatever their tables hold now: ``fn(org_id=None) -> [(org_id, chain), …]``
# (tenancy: every org's audit chain, written since the org was created). A chain emptied wholesale —
# entries, head and anchors truncated together — is then a failure, not "no chains".
expected_chains = Hook("dos.ledger.expected_chains")


def _expected(org_id=None) -> set[tuple[str, str]]:
    return {(str(o), c) for handler in expected_chains.handlers for o, c in handler(org_id=org_id)}


def chain_verify(*, org_id, chain: str, batch: int = 5000, records: bool = True) -> VerifyResult:
    """Recompute every entry of one chain and stop at the first one that does not check out; then
    hold the chain against its head and its anchors (a tail cut below an anchored head is found
    even when the head was rewound with it), and the chain's records against their entries."""
    result = _chain_walk(org_id=org_id, chain=chain, batch=batch)
    if result.ok and result.checked == 0 and result.head_seq == 0 and (str(org_id), chain) in _expected(org_id):
        result.fail("emptied", 1, "no entries, no head and no anchors, yet this chain was written to")
    if records:
        for check in _record_checks.get(chain, ()):
            checked, problems = check(org_id=org_id)
            result.records_checked += checked
            result.bad_records.extend(problems)
        if result.bad_records and result.ok:
            first = result.bad_records[0]
            result.fail("record_mismatch", first.seq, f"{first.kind} {first.record_id}: {first.reason}"
                        + (f" (and {len(result.bad_records) - 1} more)" if len(result.bad_records) > 1 else ""))
    return result


def _chain_walk(*, org_id, chain: str, batch: int) -> VerifyResult:
    result = VerifyResult(org_id=str(org_id), chain=chain, ok=True, checked=0, head_seq=0)
    with connection.cursor() as cur:
        cur.execute("SELECT seq, hash FROM dos_chainhead WHERE org_id = %s AND chain = %s", [org_id, chain])
        head = cur.fetchone()
    if head is not None:
        result.head_seq, head_hash = head
    anchors = _anchors(org_id, chain)
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
            if seq != expected_seq:
                return result.fail("sequence_gap", expected_seq, f"expected {expected_seq}, found {seq}")
            if prev_hash != prev:
                return result.fail("broken_link", seq)
            recomputed = sha256_hex(canonical_json(entry_content(
                chain=chain, org_id=org_id, action=action, actor=actor, target=target, data=data,
                corr_id=corr_id, created_at=created_at)))
            if recomputed != content_hash:
                return result.fail("content_altered", seq)
            if link_hash(prev_hash, content_hash) != entry_hash:
                return result.fail("hash_altered", seq)
            if seq in anchors and entry_hash not in anchors[seq]:
                return result.fail("anchor_mismatch", seq)
            result.checked += 1
            prev, expected_seq, last_seq = entry_hash, seq + 1, seq
    anchored = max(anchors, default=0)
    if anchored > result.checked:
        return result.fail("truncated", result.checked + 1,
                           f"chain ends at seq {result.checked}, seq {anchored} was anchored")
    if head is None:
        if result.checked:
            return result.fail("head_missing", None, f"{result.checked} entries but no head row")
        return result
    if result.checked != result.head_seq or prev != head_hash:
        return result.fail("missing_tail", result.checked + 1,
                           f"head says seq {result.head_seq}, chain ends at {result.checked}")
    return result


def chains_in_scope(*, org_id=None, chain: str | None = None) -> list[tuple[str, str]]:
    """(org_id, chain) pairs visible in the current scope, optionally filtered: every chain that has
    a head, an entry or an anchor (a chain whose head row was deleted is still verified)."""
    where, params = "TRUE", []
    if org_id:
        where += " AND org_id = %s"
        params.append(org_id)
    if chain:
        where += " AND chain = %s"
        params.append(chain)
    sql = " UNION ".join(f"SELECT org_id, chain FROM {table} WHERE {where}"
                         for table in ("dos_chainhead", "dos_ledgerentry", "dos_chainanchor"))
    with connection.cursor() as cur:
        cur.execute(f"SELECT org_id, chain FROM ({sql}) AS c ORDER BY org_id, chain", params * 3)
        found = {(str(o), c) for o, c in cur.fetchall()}
    found |= {(o, c) for o, c in _expected(org_id) if chain in (None, c)}
    return sorted(found)
