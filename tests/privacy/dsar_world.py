"""Acme with two privacy officers, and one applicant with decisions, a review case and a redacted note."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from dataclasses import dataclass

from decisions import services as decision_services
from dos import scope
from dos.authz import system_actor
from hitl import notes
from hitl.choices import CaseSource
from hitl.services import case_open
from privacy.dsar.pipeline import dsar_process
from privacy.dsar.services import dsar_submit, dsar_verify
from privacy.models import DsarExport, DsarRequest
from tests.factories import UserFactory, add_member, as_member, default_project

SYSTEM = system_actor("test")
PHONE = "010-2345-6789"
SUBJECT = "lead-4242"
APPLICATION = {"age": 35, "income_monthly": 4200000, "dsr": 28.5, "credit_score": 720, "employment_months": 40,
               "delinquencies_12m": 0, "documents_missing": [], "consent_credit_check": True,
               "loan_amount": 30000000, "product": "personal"}


@dataclass
class Applicant:
    token: str
    decision: object
    case: object
    note: object


def officer(org, email: str):
    user = UserFactory(email=email, full_name=email.split("@")[0].title())
    add_member(org, user, "privacy_officer")
    return user


def applicant(org, subject_id: str = SUBJECT) -> Applicant:
    project = default_project(org)
    with scope.org_scope(org.id):
        decided = decision_services.decision_make(org=org, project=project, subject_id=subject_id,
                                                  purpose="loan_screening", data=dict(APPLICATION), actor=SYSTEM)
        record = decided.record if hasattr(decided, "record") else decided
        case = case_open(org_id=org.id, project=project, source=CaseSource.ADMIN, decision=record, actor=SYSTEM)
        note = notes.note_add(case=case, actor=SYSTEM, body_md=f"Called the applicant on {PHONE} about the payslip.")
    return Applicant(token=record.subject_token, decision=record, case=case, note=note)


def submitted(org, kind: str, *, subject_id: str = SUBJECT, **kwargs) -> DsarRequest:
    with scope.org_scope(org.id):
        return dsar_submit(org_id=org.id, kind=kind, subject_id=subject_id, actor=SYSTEM, channel="api", **kwargs)


def verified(org, request, user) -> DsarRequest:
    with scope.org_scope(org.id):
        return dsar_verify(request=request, actor=as_member(org, user), method="document")


def approve_erasure(org, request, user):
    from tenancy.approvals import approval_grant

    with scope.org_scope(org.id):
        request.refresh_from_db()
        return approval_grant(request=request.approval, actor=as_member(org, user))


def approve_handover(org, request, user):
    """A second holder of dsar.fulfil approves handing an access request's export over (four eyes)."""
    return approve_erasure(org, request, user)


def run(org, request) -> str:
    return dsar_process(org_id=str(org.id), request_id=str(request.id))


def export_files(org, request) -> dict[str, bytes]:
    from privacy.dsar.export import export_bytes

    with scope.org_scope(org.id):
        made = DsarExport.objects.get(request=request)
        data = export_bytes(made)
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


def export_json(files) -> dict:
    return json.loads(files["subject_export.json"])


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "summary.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
