"""A decision record against its entry on the decisions chain.

The entry chains a projection of the record (``decision_chain_data``): who was decided about, for
what purpose, under which policy and input, with which outcome and reason codes. A record matches
its entry when that projection, in canonical form, hashes to the same value as the entry's data,
the entry names the record as its target, the record's ``ledger_hash`` is the entry's hash and its
policy version is the one whose sha256 was chained.
``dosctl audit verify`` runs ``decision_records_verify`` for every decisions chain (registered in
``DecisionsConfig.ready``); the evidence bundle shows the same comparison for one record.
"""

from __future__ import annotations

import json

from decisions.choices import RecordKind
from dos.canonical import canonical_json, sha256_hex
from dos.ledger import RecordProblem


def record_body_sha256(record) -> str:
    """What the projection below leaves out in clear — the masked snapshot, the rule path, labels and
    the correlation id — as one digest, so a record altered there is caught too. Plain sorted JSON:
    snapshots hold floats, which canonical JSON refuses on purpose."""
    body = {"snapshot": record.snapshot, "rule_path": record.rule_path, "labels": sorted(record.labels or []),
            "corr_id": record.corr_id}
    return sha256_hex(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def decision_chain_data(record, *, with_body: bool = True) -> dict:
    """The data the decisions chain holds for ``record`` (see decision_make / decision_finalize).
    Entries written before the body digest existed are compared without it (``with_body=False``)."""
    data = {
        "decision_id": str(record.id), "outcome": record.outcome,
        "reason_codes": [c["code"] for c in record.reason_codes], "policy_sha256": record.policy_sha256,
        "input_hash": record.input_hash, "subject": record.subject_token, "purpose": record.purpose,
        "kind": str(record.kind),
    }
    if record.consent_ref:  # the consent (or lawful basis) that covered the purpose; absent on older records
        data["consent"] = record.consent_ref
    if record.kind == RecordKind.OVERRIDE:
        refs = dict(record.refs or {})
        data["overrides"] = refs.pop("overrides", "")
        data["refs"] = refs
    if with_body:
        data["body_sha256"] = record_body_sha256(record)
    return data


def chained_projection(record, entry) -> dict:
    """``decision_chain_data`` in the form ``entry`` recorded it (with or without the body digest)."""
    return decision_chain_data(record, with_body=entry is None or "body_sha256" in (entry.data or {}))


def record_entry_compare(record, entry, *, version_sha256: str | None = None) -> str:
    """Why ``record`` does not match its chain entry ("" when it does). ``version_sha256`` is its
    policy version's sha256 when the caller has it at hand."""
    if entry is None:
        return f"no decisions-chain entry at seq {record.ledger_seq}"
    if entry.target != f"decision:{record.id}":
        return f"chain entry #{entry.seq} is about {entry.target or 'nothing'}, not this record"
    if record.ledger_hash != entry.hash:
        return f"ledger_hash differs from the hash of chain entry #{entry.seq}"
    if sha256_hex(canonical_json(chained_projection(record, entry))) != sha256_hex(canonical_json(entry.data)):
        return f"record does not match what chain entry #{entry.seq} recorded (record altered)"
    if (record.policy_version.sha256 if version_sha256 is None else version_sha256) != record.policy_sha256:
        return "the record's policy version is not the one whose sha256 was chained"
    return ""


def decision_records_verify(*, org_id, batch: int = 2000) -> tuple[int, list[RecordProblem]]:
    """Compare every decision record of ``org_id`` with its chain entry; (checked, problems)."""
    from decisions.models import DecisionRecord, PolicyVersion
    from dos.models import LedgerEntry

    checked, problems = 0, []
    versions = dict(PolicyVersion.objects.filter(org_id=org_id).values_list("id", "sha256"))
    records = DecisionRecord.objects.filter(org_id=org_id).order_by("id")
    last = None
    while True:
        page = list((records.filter(id__gt=last) if last else records)[:batch])
        if not page:
            break
        seqs = [r.ledger_seq for r in page if r.ledger_seq is not None]
        entries = {e.seq: e for e in LedgerEntry.objects.filter(org_id=org_id, chain="decisions", seq__in=seqs)}
        for record in page:
            reason = record_entry_compare(record, entries.get(record.ledger_seq),
                                          version_sha256=versions.get(record.policy_version_id, ""))
            if reason:
                problems.append(RecordProblem(kind="decision", record_id=str(record.id), seq=record.ledger_seq,
                                              reason=reason))
            checked += 1
        last = page[-1].id
    return checked, problems
