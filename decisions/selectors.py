"""Reads for decisions: replay and explanation."""

from __future__ import annotations

import uuid

from decisions.hooks import input_unseal, subject_erased
from decisions.models import DecisionRecord, PolicyVersion
from decisions.policy.engine import compile_policy
from decisions.reason_codes import reason_text


def consent_denied(record: DecisionRecord) -> bool:
    """A deny the consent check gave (CONSENT_MISSING): the policy never saw the input."""
    return (record.refs or {}).get("consent") == "missing" and not record.rule_path and [
        c["code"] for c in record.reason_codes] == ["CONSENT_MISSING"]


def _replayed(evaluation) -> dict:
    return {"outcome": evaluation.outcome, "reason_codes": [r["code"] for r in evaluation.reason_codes],
            "rule_path": [s.as_dict() for s in evaluation.rule_path]}


def _replay_with_originals(record: DecisionRecord, policy, original: dict, diff: dict) -> tuple[str, dict]:
    """The masked snapshot did not reproduce the outcome: re-evaluate with the sealed original input
    (privacy's vault), or report ``erased`` when the subject's data key was destroyed."""
    from dos.vault import Erased

    if record.refs.get("sealed_input") and input_unseal:
        try:
            data = input_unseal.one(record)
        except Erased:
            return "erased", {}
        replayed = _replayed(policy.evaluate(policy.validate(data), labels=record.labels))
        diff = {key: {"recorded": original[key], "replayed": replayed[key]} for key in original
                if original[key] != replayed[key]}
        return ("match" if not diff else "mismatch"), diff
    if subject_erased and subject_erased.one(record):
        return "erased", {}
    return "mismatch", diff


def decision_replay(record: DecisionRecord) -> dict:
    """Re-evaluate with the pinned version and the stored snapshot; report whether it matches.

    The snapshot has personal data masked: a rule that reads a masked text field would see the
    mask. Such a record keeps its original input sealed under the subject's data key (privacy's
    vault, ``refs["sealed_input"]``): replay then re-evaluates with the original. Once the subject was
    erased (crypto-shredded), a record that needed those values is reported ``erased`` — they are gone
    by design, not tampered with — while one whose masked snapshot still reproduces it matches.
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
    if diff and (record.refs or {}).get("pii_masked"):
        status, diff = _replay_with_originals(record, policy, original, diff)
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
