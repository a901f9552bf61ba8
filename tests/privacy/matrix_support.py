"""Permission-matrix rows of the privacy app's later actions (``tests/tenancy/test_permission_matrix.py``
adds them to its ``MATRIX``): set-ups, service calls and the admin surfaces, kept here so the matrix
file stays readable."""

from __future__ import annotations

import uuid

from dos import scope
from privacy import models as privacy_models
from privacy.vault import rotation as vault_rotation


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
