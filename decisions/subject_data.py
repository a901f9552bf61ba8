"""The subject's decision records, for subject requests (``dos.subject_data``).

Records are chained (the decisions chain) and never change: an erasure leaves them in place with
their masked snapshot and hashes, and the subject's sealed values become unreadable instead."""

from __future__ import annotations

from decisions.models import DecisionRecord
from dos.subject_data import Section, SubjectQuery


def subject_decisions(query: SubjectQuery) -> list[Section]:
    records = list(DecisionRecord.objects.filter(subject_token=query.subject_token)
                   .select_related("policy_version__policy_set").order_by("decided_at", "id")[:10_000])
    query.refs["decision_ids"] = [str(r.id) for r in records]
    rows = [{
        "decision_id": str(r.id), "decided_at": r.decided_at.isoformat(), "purpose": r.purpose, "kind": r.kind,
        "outcome": r.outcome, "reason_codes": r.reason_codes,
        "policy": f"{r.policy_version.policy_set.name} {r.policy_version.semver}",
        "consent_ref": r.consent_ref, "input_masked": r.snapshot, "input_hash": r.input_hash,
    } for r in records]
    return [Section(name="decisions", title="Decisions about the subject", rows=rows, source="decisions.DecisionRecord",
                    chained=True, kept_because="Decision ledger: kept 7 years on the decisions chain (inputs masked; "
                                               "personal values only in the vault).")]
