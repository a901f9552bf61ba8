"""Privacy's own records about a subject, for subject requests: consents and their history."""

from __future__ import annotations

from dos.subject_data import Section, SubjectQuery


def subject_consents(query: SubjectQuery) -> list[Section]:
    from privacy.models import Consent, ConsentEvent

    consents = Consent.objects.filter(subject_token=query.subject_token).order_by("valid_from")
    rows = [{"consent_id": str(c.id), "purposes": list(c.purposes), "scopes": list(c.scopes),
             "lawful_basis": c.lawful_basis, "source": c.source, "valid_from": c.valid_from.isoformat(),
             "valid_until": c.valid_until.isoformat() if c.valid_until else "", "recorded_at": c.recorded_at.isoformat()}
            for c in consents]
    events = ConsentEvent.objects.filter(subject_token=query.subject_token).order_by("at")
    history = [{"consent_id": str(e.consent_id), "event": e.kind, "at": e.at.isoformat(), "reason": e.reason}
               for e in events]
    kept = "Proof of consent: kept as evidence of lawful processing (append-only history)."
    return [Section(name="consents", title="Consents", rows=rows, source="privacy.Consent", kept_because=kept),
            Section(name="consent_history", title="Consent history", rows=history, source="privacy.ConsentEvent",
                    kept_because=kept)]


def subject_requests(query: SubjectQuery) -> list[Section]:
    from privacy.models import DsarRequest

    rows = [{"reference": r.reference, "kind": r.kind, "received_at": r.received_at.isoformat(), "state": r.state,
             "completed_at": r.completed_at.isoformat() if r.completed_at else ""}
            for r in DsarRequest.objects.filter(subject_token=query.subject_token).order_by("received_at")]
    return [Section(name="privacy_requests", title="Your privacy requests", rows=rows, source="privacy.DsarRequest",
                    kept_because="Record of requests and their answers (accountability).")]
