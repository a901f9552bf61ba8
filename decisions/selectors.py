"""Reads for decisions: replay and explanation."""

from __future__ import annotations

import uuid

from decisions.hooks import subject_erased
from decisions.models import DecisionRecord, PolicyVersion
from decisions.policy.engine import compile_policy
from decisions.reason_codes import reason_text


def consent_denied(record: DecisionRecord) -> bool:
    """A deny the consent check gave (CONSENT_MISSING): the policy never saw the input."""
    return (record.refs or {}).get("consent") == "missing" and not record.rule_path and [
        c["code"] for c in record.reason_codes] == ["CONSENT_MISSING"]


def decision_replay(record: DecisionRecord) -> dict:
    """Re-evaluate with the pinned version and the stored snapshot; report whether it matches.

    The snapshot has personal data masked: a rule that reads a masked text field would see the
    mask, which shows up here as a mismatch. When the subject was erased (crypto-shredded, the
    ``subject_erased`` hook), a record whose snapshot had masked values that no longer reproduces its
    outcome is reported ``erased`` — the values it needed are gone by design, not tampered with.
    ``status`` is ``match``, ``mismatch`` or ``erased``.
    """
    if consent_denied(record):  # denied before evaluation, with no snapshot: nothing to re-evaluate
        return {"decision_id": str(record.id), "policy_version": record.policy_version.semver,
                "policy_sha256": record.policy_sha256, "match": True, "status": "match", "diff": {}}
    policy = compile_policy(record.policy_version.source)
    evaluation = policy.evaluate(policy.validate(record.snapshot), labels=record.labels)
    replayed = {
        "outcome": evaluation.outcome,
        "reason_codes": [r["code"] for r in evaluation.reason_codes],
        "rule_path": [s.as_dict() for s in evaluation.rule_path],
    }
    original = {"outcome": record.outcome, "reason_codes": [r["code"] for r in record.reason_codes],
                "rule_path": record.rule_path}
    diff = {key: {"recorded": original[key], "replayed": replayed[key]} for key in original
            if original[key] != replayed[key]}
    status = "match" if not diff else "mismatch"
    if diff and (record.refs or {}).get("pii_masked") and subject_erased and subject_erased.one(record):
        status, diff = "erased", {}
    return {"decision_id": str(record.id), "policy_version": record.policy_version.semver,
            "policy_sha256": record.policy_sha256, "match": status == "match", "status": status, "diff": diff}


def decision_explain(record: DecisionRecord, *, org=None) -> dict:
    version = record.policy_version
    return {
        "decision_id": str(record.id),
        "decided_at": record.decided_at.isoformat(),
        "outcome": record.outcome,
        "kind": record.kind,
        "reasons": [{**reason_text(r["code"], org=org, fallback=r.get("message", "")), "rule_message": r.get("message", "")}
                    for r in record.reason_codes],
        "rule_path": record.rule_path,
        "policy": {"name": version.policy_set.name, "version": version.semver, "sha256": version.sha256},
        "input": record.snapshot,
        "subject": record.subject_token,
        "purpose": record.purpose,
        "chain": {"name": "decisions", "seq": record.ledger_seq, "hash": record.ledger_hash},
        "caveats": ["Personal data in the input is shown masked."],
    }


def policy_version_by_id(value: str) -> PolicyVersion | None:
    """A policy version by the id that ``policy init`` and the API print (in the current org scope)."""
    try:
        version_id = uuid.UUID(str(value))
    except ValueError:
        return None
    return PolicyVersion.objects.select_related("policy_set", "approval").filter(id=version_id).first()
