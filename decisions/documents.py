"""Documents for people outside DecisionOS: the customer explanation PDF and the evidence bundle."""

from __future__ import annotations

import io
import json
import zipfile

from django.template.loader import render_to_string

from decisions.chain import chained_projection, record_entry_compare
from decisions.models import DecisionRecord
from decisions.selectors import decision_explain
from dos.canonical import canonical_json, sha256_hex
from dos.ledger import entry_content, link_hash
from dos.models import ChainAnchor, LedgerEntry

OUTCOME_KO = {"approve": "승인", "deny": "거절", "review": "심사 진행"}


def explain_pdf(record: DecisionRecord, *, org=None) -> bytes:
    """A customer-facing explanation in Korean and English (no internal rule ids, input masked)."""
    from weasyprint import HTML

    explained = decision_explain(record, org=org)
    html = render_to_string("decisions/explain_pdf.html",
                            {"e": explained, "outcome_ko": OUTCOME_KO.get(explained["outcome"], explained["outcome"]),
                             "org_name": getattr(org, "name", "")})
    return HTML(string=html).write_pdf()


def chain_proof(record: DecisionRecord) -> dict:
    """The record's chain entry, its predecessor's hash, a recomputation anyone can repeat, and the
    record held against what the entry chained (the comparison ``dosctl audit verify`` makes)."""
    entry = LedgerEntry.objects.filter(org_id=record.org_id, chain="decisions", seq=record.ledger_seq).first()
    chained = chained_projection(record, entry)
    mismatch = record_entry_compare(record, entry)
    record_check = {"record_chain_data": chained, "record_chain_data_hash": sha256_hex(canonical_json(chained)),
                    "record_matches_entry": not mismatch, "record_mismatch": mismatch}
    if entry is None:
        return {"chain": "decisions", "seq": record.ledger_seq, "link_ok": False, **record_check}
    recomputed = sha256_hex(canonical_json(entry_content(
        chain=entry.chain, org_id=entry.org_id, action=entry.action, actor=entry.actor, target=entry.target,
        data=entry.data, corr_id=entry.corr_id, created_at=entry.created_at)))
    anchor = (ChainAnchor.objects.filter(chain="decisions", seq__gte=entry.seq).order_by("seq")
              .values("seq", "hash", "anchored_at").first())
    return {
        "chain": "decisions", "seq": entry.seq, "content_hash": entry.content_hash, "prev_hash": entry.prev_hash,
        "hash": entry.hash, "recomputed_content_hash": recomputed,
        "link_ok": recomputed == entry.content_hash and link_hash(entry.prev_hash, entry.content_hash) == entry.hash,
        "formula": "hash = sha256(prev_hash || content_hash); content_hash = sha256(canonical JSON of the entry)",
        "entry": {"action": entry.action, "actor": entry.actor, "target": entry.target, "data": entry.data,
                  "corr_id": entry.corr_id, "created_at": entry.created_at.isoformat()},
        "entry_data_hash": sha256_hex(canonical_json(entry.data)), **record_check,
        "later_anchor": {**anchor, "anchored_at": anchor["anchored_at"].isoformat()} if anchor else None,
    }


def evidence_zip(record: DecisionRecord, *, org=None) -> bytes:
    version = record.policy_version
    record_json = {
        "decision_id": str(record.id), "decided_at": record.decided_at.isoformat(), "outcome": record.outcome,
        "kind": record.kind, "reason_codes": record.reason_codes, "rule_path": record.rule_path,
        "subject_token": record.subject_token, "purpose": record.purpose, "input_hash": record.input_hash,
        "snapshot_masked": record.snapshot, "policy": {"name": version.policy_set.name, "version": version.semver,
                                                       "sha256": version.sha256},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        def put(name: str, content) -> None:
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, indent=2)
            bundle.writestr(name, text)
        put("record.json", record_json)
        put("policy.yaml", version.source)
        put("explanation.json", decision_explain(record, org=org))
        put("chain_proof.json", chain_proof(record))
        put("README.txt", "Evidence for one DecisionOS decision.\n"
            "policy.yaml hashes to record.json policy.sha256 (sha256 of the file's bytes).\n"
            "chain_proof.json lets you recompute the decisions-chain link of this record, and holds the record\n"
            "against what its chain entry recorded (record_chain_data hashes to entry_data_hash).\n")
    return buffer.getvalue()
