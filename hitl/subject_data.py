"""The subject's review cases, their timelines, notes and appeals, for subject requests
(``dos.subject_data``). A case belongs to the subject through its decision.

A redacted note's original is opened from the vault for the subject's own copy; once the subject's
key is destroyed it no longer opens, and only the masked text remains."""

from __future__ import annotations

from dos.subject_data import Section, SubjectQuery
from hitl.models import Appeal, Case, CaseEvent, CaseNote


def subject_cases(query: SubjectQuery) -> list[Section]:
    decision_ids = query.refs.get("decision_ids", [])
    cases = list(Case.objects.filter(decision_id__in=decision_ids).order_by("created_at", "id")) if decision_ids else []
    query.refs["case_ids"] = [str(c.id) for c in cases]
    case_rows = [{"case": c.number, "case_id": str(c.id), "decision_id": str(c.decision_id), "opened_at":
                  c.created_at.isoformat(), "status": c.status, "priority": c.priority, "outcome": c.outcome,
                  "reason_codes": c.reason_codes, "summary_masked": c.summary} for c in cases]
    numbers = {c.id: c.number for c in cases}
    events = CaseEvent.objects.filter(case_id__in=numbers).order_by("created_at", "id") if cases else []
    event_rows = [{"case": numbers[e.case_id], "at": e.created_at.isoformat(), "event": e.kind}
                  for e in events]
    notes = CaseNote.objects.filter(case_id__in=numbers).order_by("created_at", "id") if cases else []
    note_rows = []
    for note in notes:
        original = query.unseal(note.sealed) if note.redacted else None
        note_rows.append({"case": numbers[note.case_id], "at": note.created_at.isoformat(), "text": note.body_md,
                          "original": original if original is not None else "",
                          "original_state": ("none" if not note.redacted else
                                             "withheld" if query.withheld else
                                             "erased" if original is None else "included")})
    appeals = Appeal.objects.filter(case_id__in=numbers).order_by("created_at") if cases else []
    appeal_rows = [{"case": numbers[a.case_id], "at": a.created_at.isoformat(), "level": a.level,
                    "status": a.status, "resolution": a.resolution} for a in appeals]
    return [
        Section(name="cases", title="Review cases", rows=case_rows, source="hitl.Case",
                kept_because="Review record of a chained decision (masked summary only)."),
        Section(name="case_timeline", title="Case timeline", rows=event_rows, source="hitl.CaseEvent",
                kept_because="Append-only case timeline (no personal values)."),
        Section(name="case_notes", title="Case notes", rows=note_rows, source="hitl.CaseNote"),
        Section(name="appeals", title="Appeals", rows=appeal_rows, source="hitl.Appeal"),
    ]
