"""An access request hands a subject's data — sealed case-note originals included — to a person who
passes it on. One person must never do that alone: verifying asks for the hand-over, a second holder
of ``dsar.fulfil`` (neither the verifier nor the submitter) approves it through ``tenancy.approvals``,
and only then is anything collected; the sealed originals are opened under that approval, and the
export is downloaded only while it stands."""

from __future__ import annotations

import pytest

from dos import scope
from dos.authz import PermissionRefused, system_actor
from dos.subject_data import SubjectQuery
from dos.vault import VaultError
from privacy.dsar.services import DsarStateError, dsar_submit, export_download
from privacy.models import DsarExport
from privacy.vault import unseal
from privacy.vault.services import UnsealRefused
from tenancy.approvals import FourEyesViolation, approval_grant
from tests.factories import UserFactory, add_member, as_member
from tests.privacy.dsar_world import (
    PHONE,
    applicant,
    approve_handover,
    export_files,
    export_json,
    run,
    submitted,
    verified,
)

pytestmark = pytest.mark.django_db


def _notes(org, request):
    return {s["name"]: s for s in export_json(export_files(org, request))["sections"]}["case_notes"]["rows"]


def test_one_admin_cannot_submit_verify_and_download_an_access_export_alone(acme, lending, pedro):
    applicant(acme)
    alice = UserFactory(email="alice-admin@acme.example")
    add_member(acme, alice, "admin")
    me = as_member(acme, alice)
    with scope.org_scope(acme.id):
        request = dsar_submit(org_id=acme.id, kind="access", subject_id="lead-4242", actor=me, channel="api")
    run(acme, request)
    verified(acme, request, alice)
    assert run(acme, request) == "collect"  # nothing collected, nothing unsealed
    with scope.org_scope(acme.id):
        assert not DsarExport.objects.filter(request=request).exists()
        with pytest.raises(DsarStateError):  # nothing to hand over
            export_download(request=request, actor=me)
        request.refresh_from_db()
        with pytest.raises(FourEyesViolation):  # the verifier (and submitter) cannot approve the hand-over
            approval_grant(request=request.approval, actor=me)
    approve_handover(acme, request, pedro)  # a second privacy officer does
    assert run(acme, request) == "done"
    assert _notes(acme, request)[0]["original_state"] == "included"  # opened under the approval
    with scope.org_scope(acme.id):
        assert export_download(request=request, actor=me)


def test_the_submitter_cannot_approve_the_hand_over_a_colleague_verified(acme, lending, priya, pedro):
    applicant(acme)
    with scope.org_scope(acme.id):
        request = dsar_submit(org_id=acme.id, kind="access", subject_id="lead-4242", actor=as_member(acme, pedro))
    verified(acme, request, priya)
    with pytest.raises(FourEyesViolation):
        approve_handover(acme, request, pedro)
    assert run(acme, request) == "collect"


def test_an_export_made_without_an_approved_hand_over_is_not_handed_out(acme, lending, priya):
    """An export built before hand-overs needed a second person stays locked until one approves."""
    applicant(acme)
    request = submitted(acme, "access")
    verified(acme, request, priya)
    with scope.org_scope(acme.id):
        request.refresh_from_db()
        request.approval = None
        request.save(update_fields=["approval"])
        DsarExport.objects.create(org_id=acme.id, request=request, archive_sealed="vs2.x", sha256="0" * 64, size=1,
                                  sections={}, created_at=request.received_at)
        with pytest.raises(PermissionRefused) as refused:
            export_download(request=request, actor=as_member(acme, priya))
        assert refused.value.code == "four_eyes"


def test_sealed_originals_open_only_under_the_matching_approved_hand_over(acme, lending, priya, pedro):
    person = applicant(acme)
    other = applicant(acme, subject_id="lead-7777")
    job = system_actor("dsar")
    # Without an approval the collector withholds the originals instead of opening them.
    with scope.org_scope(acme.id):
        assert SubjectQuery(org_id=acme.id, subject_token=person.token).unseal(person.note.sealed) is None
        with pytest.raises(UnsealRefused) as refused:  # nor does any job open them by naming the purpose
            unseal(actor=job, org_id=acme.id, sealed=bytes(person.note.sealed), purpose="dsar.access")
        assert refused.value.code == "handover_required"
    request = submitted(acme, "access")
    verified(acme, request, priya)
    with scope.org_scope(acme.id):
        request.refresh_from_db()
        pending = request.approval
        with pytest.raises((VaultError, PermissionRefused)):  # not approved yet
            unseal(actor=job, org_id=acme.id, sealed=bytes(person.note.sealed), purpose="dsar.access",
                   approval=pending)
    approve_handover(acme, request, pedro)
    with scope.org_scope(acme.id):
        pending.refresh_from_db()
        assert PHONE in unseal(actor=job, org_id=acme.id, sealed=bytes(person.note.sealed), purpose="dsar.access",
                               approval=pending).decode()
        with pytest.raises((VaultError, PermissionRefused)):  # another subject's value: not what was approved
            unseal(actor=job, org_id=acme.id, sealed=bytes(other.note.sealed), purpose="dsar.access", approval=pending)
        with pytest.raises((VaultError, PermissionRefused)):  # another purpose
            unseal(actor=job, org_id=acme.id, sealed=bytes(person.note.sealed), purpose="decision.replay",
                   approval=pending)
