"""Data subject requests end to end: intake with its deadline, verification, the checkpointed
pipeline, subject_export.zip (JSON + CSV + PDF), erasure under four eyes, and legal holds deferring it."""

from __future__ import annotations

import datetime as dt

import pytest

from dos import scope
from dos.authz import PermissionRefused
from dos.errors import FieldErrors
from dos.ledger import chain_verify
from dos.models import LedgerEntry
from privacy.dsar.services import DsarStateError, dsar_reject
from privacy.holds import hold_place
from privacy.models import DsarEvent, DsarExport, DsarRequest, DsarStep
from privacy.vault import is_erased
from tenancy.approvals import FourEyesViolation
from tests.factories import as_member
from tests.privacy.dsar_world import (
    PHONE,
    SYSTEM,
    applicant,
    approve_erasure,
    approve_handover,
    export_files,
    export_json,
    pdf_text,
    run,
    submitted,
    verified,
)

pytestmark = pytest.mark.django_db


def test_it_takes_the_deadline_from_the_org_settings_and_waits_for_verification(acme, lending, priya):
    applicant(acme)
    request = submitted(acme, "access")
    assert request.due_at - request.received_at == dt.timedelta(days=10)
    assert request.target_at - request.received_at == dt.timedelta(days=7)
    assert request.subject_hint and "4242" not in request.subject_hint
    assert run(acme, request) == "verify"  # intake done; a person must verify the subject
    with scope.org_scope(acme.id):
        assert list(DsarStep.objects.filter(request=request).values_list("step", flat=True)) == ["intake"]


def test_an_access_request_exports_json_csv_and_a_pdf_summary_with_the_subjects_values(
        acme, lending, priya, pedro, tmp_path):
    person = applicant(acme)
    request = submitted(acme, "access", details={"message": "Please send me everything you hold."})
    run(acme, request)
    verified(acme, request, priya)
    assert run(acme, request) == "collect"  # waits for a second person to approve the hand-over
    approve_handover(acme, request, pedro)
    assert run(acme, request) == "done"
    files = export_files(acme, request)
    assert {"subject_export.json", "summary.pdf", "README.txt", "csv/decisions.csv", "csv/case_notes.csv",
            "csv/usage_events.csv", "csv/audit_entries.csv", "csv/consents.csv"} <= set(files)
    document = export_json(files)
    sections = {s["name"]: s for s in document["sections"]}
    assert [r["decision_id"] for r in sections["decisions"]["rows"]] == [str(person.decision.id)]
    original = sections["case_notes"]["rows"][0]
    assert original["original_state"] == "included" and "payslip" in original["original"]  # unsealed
    assert "010-****-6789" in original["original"] and PHONE not in files["csv/case_notes.csv"].decode()
    assert len(sections["usage_events"]["rows"]) == 1
    assert "user:" not in files["subject_export.json"].decode()  # staff are not named
    text = pdf_text(files["summary.pdf"], tmp_path)
    assert request.reference in text and "Records held" in text and "Decisions about the subject" in text
    with scope.org_scope(acme.id):
        request.refresh_from_db()
        assert request.working_sealed == "" and request.completed_at is not None
        assert list(DsarEvent.objects.filter(request=request).values_list("kind", flat=True))[:2] == [
            "received", "step.intake"]


def test_an_erasure_needs_a_second_person_and_leaves_every_chain_verifying(acme, lending, priya, pedro, tmp_path):
    person = applicant(acme)
    request = submitted(acme, "erasure")
    verified(acme, request, priya)
    assert run(acme, request) == "fulfil"  # waits for the second person
    with pytest.raises(FourEyesViolation):
        approve_erasure(acme, request, priya)
    approve_erasure(acme, request, pedro)
    assert run(acme, request) == "done"
    assert is_erased(org_id=acme.id, subject_token=person.token)
    with scope.org_scope(acme.id):
        request.refresh_from_db()
        kept = {k["section"]: k["because"] for k in request.result["kept"]}
        assert request.result["erased"] is True and "7 years" in kept["decisions"]
        for chain in ("audit", "decisions", "billing"):
            assert chain_verify(org_id=acme.id, chain=chain).ok, chain
    receipt = export_json(export_files(acme, request))
    assert all(s["rows"] == [] for s in receipt["sections"]) and PHONE not in str(receipt)
    # A new access request after the erasure: the subject's values are gone, the masked records stay.
    again = submitted(acme, "access")
    verified(acme, again, priya)
    approve_handover(acme, again, pedro)
    assert run(acme, again) == "done"
    files = export_files(acme, again)
    document = export_json(files)
    notes = {s["name"]: s for s in document["sections"]}["case_notes"]["rows"]
    assert notes[0]["original"] == "" and notes[0]["original_state"] == "erased"
    assert all(PHONE not in data.decode(errors="ignore") for name, data in files.items() if name != "summary.pdf")
    assert PHONE not in pdf_text(files["summary.pdf"], tmp_path)


def test_an_earlier_export_is_destroyed_with_the_subject(acme, lending, priya, pedro):
    from privacy.dsar.export import export_bytes
    from privacy.vault import Erased

    applicant(acme)
    access = submitted(acme, "access")
    verified(acme, access, priya)
    approve_handover(acme, access, pedro)
    run(acme, access)
    erasure = submitted(acme, "erasure")
    verified(acme, erasure, priya)
    approve_erasure(acme, erasure, pedro)
    run(acme, erasure)
    with scope.org_scope(acme.id), pytest.raises(Erased):
        export_bytes(DsarExport.objects.get(request=access))


def test_a_legal_hold_on_the_subject_defers_the_erasure_and_says_why(acme, lending, priya, pedro):
    person = applicant(acme)
    with scope.org_scope(acme.id):
        hold = hold_place(org_id=acme.id, actor=as_member(acme, pedro), scope="subjects", targets=[person.token],
                          reason="Litigation 2026-가합-1234")
    request = submitted(acme, "erasure")
    verified(acme, request, priya)
    approve_erasure(acme, request, pedro)
    assert run(acme, request) == "done"
    assert not is_erased(org_id=acme.id, subject_token=person.token)
    with scope.org_scope(acme.id):
        request.refresh_from_db()
        assert request.result["erased"] is False
        assert request.result["deferred_by_holds"] == [{"id": str(hold.id), "reason": hold.reason}]


def test_it_refuses_bad_input_and_people_without_the_permission(acme, lending, alice, priya):
    with pytest.raises(FieldErrors) as bad:
        submitted(acme, "forget-me")
    assert "kind" in bad.value.errors
    with pytest.raises(FieldErrors) as bad:
        submitted(acme, "rectification", details={"message": "wrong income"})
    assert "details.corrections" in bad.value.errors
    request = submitted(acme, "access")
    with pytest.raises(PermissionRefused):
        verified(acme, request, alice)
    with scope.org_scope(acme.id):
        with pytest.raises(FieldErrors):
            dsar_reject(request=request, actor=as_member(acme, priya), reason=" ")
        dsar_reject(request=request, actor=as_member(acme, priya), reason="Identity could not be confirmed.")
        with pytest.raises(DsarStateError):
            dsar_reject(request=request, actor=as_member(acme, priya), reason="again")
        assert DsarRequest.objects.get(pk=request.pk).state == "rejected"
        assert LedgerEntry.objects.filter(action="dsar.rejected").count() == 1
    assert run(acme, request) == "rejected"


def test_a_rectification_opens_a_review_case_with_the_fields_named(acme, lending, priya):
    from hitl.models import Case

    applicant(acme)
    request = submitted(acme, "rectification", details={"corrections": {"income_monthly": 5100000}})
    verified(acme, request, priya)
    assert run(acme, request) == "done"
    with scope.org_scope(acme.id):
        request.refresh_from_db()
        case = Case.objects.get(id=request.result["case"])
        assert case.summary["fields"] == ["income_monthly"] and "5100000" not in str(case.summary)
        assert "5100000" not in str(request.details)


def test_a_restriction_revokes_the_subjects_consents_so_decide_stops_on_consent(acme, lending, priya):
    from privacy.consent import consent_covering, consent_grant

    person = applicant(acme)
    with scope.org_scope(acme.id):
        consent = consent_grant(org_id=acme.id, subject_token=person.token, purposes=["loan_screening"],
                                source="web_form:v3", actor=SYSTEM)
    request = submitted(acme, "restriction")
    verified(acme, request, priya)
    assert run(acme, request) == "done"
    with scope.org_scope(acme.id):
        request.refresh_from_db()
        assert request.result["consents_revoked"] == [str(consent.id)]
        assert consent_covering(org_id=acme.id, subject_token=person.token, purpose="loan_screening") is None


def test_the_beat_sweep_warns_and_carries_verified_requests_on(acme, lending, priya, pedro):
    from privacy.tasks import dsar_sweep_all

    applicant(acme)
    waiting = submitted(acme, "access")
    erasure = submitted(acme, "erasure")
    verified(acme, erasure, priya)
    run(acme, erasure)  # waits at fulfil for the second person
    approve_erasure(acme, erasure, pedro)
    with scope.org_scope(acme.id):
        DsarRequest.objects.filter(pk=waiting.pk).update(warn_at=waiting.received_at)
    swept = dsar_sweep_all()
    assert swept["warned"] >= 1 and swept["carried_on"] >= 1
    with scope.org_scope(acme.id):
        assert DsarRequest.objects.get(pk=erasure.pk).state == "done"
        assert DsarRequest.objects.get(pk=waiting.pk).state == "intake"  # unverified: left for a person
