"""Permission-matrix rows of the privacy app's later actions (``tests/tenancy/test_permission_matrix.py``
adds them to its ``MATRIX``): set-ups, service calls and the admin surfaces, kept here so the matrix
file stays readable."""

from __future__ import annotations

import uuid

from dos import scope
from privacy import consent as privacy_consent
from privacy import holds as privacy_holds
from privacy import models as privacy_models
from privacy.dsar import services as dsar_services
from privacy.retention import services as retention
from privacy.vault import rotation as vault_rotation
from privacy.vault import services as vault
from tenancy.approvals import approval_grant
from tenancy.choices import OrgRole
from tenancy.models import ApprovalRequest
from tests.factories import UserFactory, add_member

SYSTEM = "system:test"


def _running_rotation(w):
    return privacy_models.KekRotation.objects.create(org_id=w.org.id, from_version=1, to_version=2,
                                                     status=privacy_models.RotationStatus.RUNNING,
                                                     requested_by="user:matrix", approval_id=uuid.uuid4())


def dsar_exported(w):
    """An access request verified by the owner, its hand-over approved by a second privacy officer
    (four eyes), and run to its export."""
    from privacy.dsar import pipeline, services
    from tenancy.approvals import approval_grant
    from tests.factories import UserFactory, add_member, as_member

    request = services.dsar_submit(org_id=w.org.id, kind="access", subject_id="lead-1", actor="system:test")
    request = services.dsar_verify(request=request, actor=w.person(w.owner), method="document")
    second = UserFactory(email="handover@acme.example")
    add_member(w.org, second, "privacy_officer")
    approval_grant(request=request.approval, actor=as_member(w.org, second))
    pipeline.dsar_process(org_id=w.org.id, request_id=request.id)
    request.refresh_from_db()
    return request


def finding(w):
    from privacy.discovery import discovery_scan

    scan = discovery_scan(org_id=w.org.id, dataset="m.csv", content=b"email\nminji@naver.com\n", actor=SYSTEM)
    return scan.findings.get()


def consent(w):
    return privacy_consent.consent_grant(org_id=w.org.id, subject_token="vt_matrix", purposes=["loan_screening"],
                                         source="matrix", actor=SYSTEM)


def settings_row(w):
    """The org's privacy settings (the lending world saved its lawful basis): changed, never added twice."""
    from privacy.models import PrivacySettings

    return PrivacySettings.objects.get(org_id=w.org.id)


def sealed(w):
    return vault.seal(actor=SYSTEM, org_id=w.org.id, subject_token="vt_matrix", table="t", row="1", field="f",
                      plaintext=b"secret")


def approved_unseal(w):
    value = sealed(w)
    request = vault.unseal_request(actor=w.person(w.owner), org_id=w.org.id, sealed=value)
    request.requested_by = w.riley  # riley asks, olivia approves (four eyes)
    request.save(update_fields=["requested_by"])
    approval_grant(request=request, actor=w.person(w.owner))
    return value, request


def approved_rotation(w):
    rotation = vault_rotation.rotation_request(actor=w.person(w.owner), org_id=w.org.id, reason="matrix")
    approver = UserFactory()
    add_member(w.org, approver, OrgRole.SECURITY_ADMIN)
    approval_grant(request=ApprovalRequest.objects.get(pk=rotation.approval_id), actor=w.person(approver))
    return rotation


def dsar(w, kind="access"):
    return dsar_services.dsar_submit(org_id=w.org.id, kind=kind, subject_id="lead-1", actor=SYSTEM)


def hold(w):
    return privacy_holds.hold_place(org_id=w.org.id, actor=SYSTEM, scope="datasets", targets=["delivery_traces"],
                                    reason="matrix")


def proposed_run(w):
    return retention.retention_plan(org_id=w.org.id, actor=w.person(w.owner))


def approved_run(w):
    run = retention.retention_plan(org_id=w.org.id, actor=SYSTEM)
    return retention.retention_approve(run=run, actor=w.person(w.owner))


def matrix_export_path() -> str:
    import tempfile

    return f"{tempfile.gettempdir()}/matrix-subject-export.zip"


def entries(Entry) -> dict:
    """name → Entry (``Entry`` is the matrix file's row type)."""
    return {
        "vault.rotate_resume": Entry(
            _running_rotation, lambda w, a, o: vault_rotation.rotation_resume(actor=a, rotation=o),
            admin=lambda w, c, o: c.post("/admin/privacy/kekrotation/", {
                "action": "resume_rotation", "_selected_action": [str(o.pk)], "confirmed": "yes"})),
    }


def admin_changed(w) -> dict:
    """name → what the admin changed (the admin answers 200/302 also when it refuses with a message)."""
    with scope.org_scope(w.org.id):
        return {
            "vault.rotate_resume": lambda: __import__("dos.models").models.LedgerEntry.objects.filter(
                chain="audit", action="vault.rotation_resumed").exists(),
        }
