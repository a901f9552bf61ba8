"""The vault back office (rotations requested, approved by a second person, started, progress shown;
subject keys listed without key material) and ``dosctl vault``."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dos import scope
from dos.authz import system_actor
from privacy.models import KekRotation, RotationStatus, SubjectKey
from privacy.vault import seal
from privacy.vault.keystore import create_keystore, reset_provider
from privacy.vault.rotation import vault_rotation_run
from privacy.vault.services import data_keys
from tenancy.approvals import approval_grant
from tenancy.models import ApprovalRequest
from tests.factories import UserFactory, add_member, as_member, verified_client

pytestmark = pytest.mark.django_db
ROTATIONS = "/admin/privacy/kekrotation/"


@pytest.fixture
def keystore(tmp_path, settings):
    settings.DOS_VAULT_KEYSTORE = str(create_keystore(tmp_path / "keystore.json"))
    data_keys.clear()
    reset_provider()
    yield settings.DOS_VAULT_KEYSTORE
    data_keys.clear()
    reset_provider()


@pytest.fixture
def sam(acme):
    user = UserFactory(email="sam@acme.example", full_name="Sam Security")
    add_member(acme, user, "security_admin")
    return user


def _keys(org, n):
    for i in range(n):
        seal(actor=system_actor("test"), org_id=org.id, subject_token=f"vt_{i}", table="t", row=str(i), field="f",
             plaintext=b"x")


def test_a_rotation_is_requested_approved_by_another_started_and_followed_in_the_back_office(
        client, keystore, acme, olivia, sam):
    _keys(acme, 12)
    browser = verified_client(client, olivia)
    form = browser.get(f"{ROTATIONS}add/")
    assert form.status_code == 200 and "버전 2" in form.content.decode()  # the back office speaks Korean
    response = browser.post(f"{ROTATIONS}add/", {"to_version": "2", "reason": "yearly rotation"})
    assert response.status_code == 302
    with scope.org_scope(acme.id):
        rotation = KekRotation.objects.get()
        assert (rotation.status, rotation.from_version, rotation.to_version) == (RotationStatus.REQUESTED, 1, 2)
        approval = ApprovalRequest.objects.get(pk=rotation.approval_id)
    # Started before a second person approved: refused, nothing changes.
    browser.post(ROTATIONS, {"action": "start_rotation", "_selected_action": [str(rotation.pk)], "confirmed": "yes"})
    with scope.org_scope(acme.id):
        assert KekRotation.objects.get().status == RotationStatus.REQUESTED
        approval_grant(request=approval, actor=as_member(acme, sam))
    confirm = browser.post(ROTATIONS, {"action": "start_rotation", "_selected_action": [str(rotation.pk)]})
    assert confirm.status_code == 200 and "데이터 키 재래핑 시작" in confirm.content.decode()
    browser.post(ROTATIONS, {"action": "start_rotation", "_selected_action": [str(rotation.pk)], "confirmed": "yes"})
    with scope.org_scope(acme.id):
        rotation = KekRotation.objects.get()
    assert rotation.status == RotationStatus.RUNNING and rotation.total == 12
    assert "0 / 12 (0%)" in browser.get(ROTATIONS).content.decode()
    assert vault_rotation_run(str(acme.id), str(rotation.pk)) == RotationStatus.COMPLETED  # the Celery task
    listing = browser.get(ROTATIONS).content.decode()
    assert "12 / 12 (100%)" in listing
    keys = browser.get("/admin/privacy/subjectkey/?kek_version=2").content.decode()
    assert "vt_11" in keys and "wrapped_key" not in keys and "wrapped key" not in keys.lower()


def test_people_without_keys_rotate_cannot_request_a_rotation(client, keystore, acme, alice):
    browser = verified_client(client, alice)
    assert browser.get(f"{ROTATIONS}add/").status_code == 403
    assert browser.post(f"{ROTATIONS}add/", {"to_version": "2", "reason": "x"}).status_code == 403
    with scope.org_scope(acme.id):
        assert not KekRotation.objects.exists()


def test_dosctl_vault_keystore_and_rotations(keystore, acme, olivia, sam):
    def run(*args):
        out = io.StringIO()
        call_command("vault", *args, "--json", stdout=out)
        return json.loads(out.getvalue())

    status = run("keystore", "status")
    assert status == {**status, "ok": True, "mode": "0400", "versions": [1, 2], "active": 1, "standby": [2]}
    assert "key" not in json.dumps(status).replace("keystore", "")
    assert run("keystore", "add-key") == {"added": 3}
    _keys(acme, 3)
    assert run("keystore", "promote", "3") == {"active": 3}
    with pytest.raises(CommandError, match="still wrapped by version 1"):
        call_command("vault", "keystore", "remove", "1")
    assert run("rotation", "ls", "--org", "acme") == []
    with pytest.raises(CommandError, match="No running rotation"):
        call_command("vault", "rotation", "run", "--org", "acme")
    from privacy.vault.rotation import rotation_request, rotation_start

    rotation = rotation_request(actor=as_member(acme, olivia), org_id=acme.id, to_version=3)
    with scope.org_scope(acme.id):
        approval_grant(request=ApprovalRequest.objects.get(pk=rotation.approval_id), actor=as_member(acme, sam))
    rotation_start(actor=as_member(acme, olivia), rotation=rotation, run=False)
    assert run("rotation", "run", "--org", "acme") == {"id": str(rotation.pk), "status": "completed", "done": 3,
                                                       "total": 3}
    with scope.org_scope(acme.id):
        assert set(SubjectKey.objects.values_list("kek_version", flat=True)) == {3}
    assert run("keystore", "remove", "1") == {"removed": 1}
    assert run("keystore", "status")["versions"] == [2, 3]


def test_a_privacy_officer_reads_a_sealed_decision_input_once_after_a_second_persons_approval(
        client, acme, lending, olivia, bob, alice, outsider, mallory):
    from tests.privacy.test_erasure import PHONE, _decide, _phone_policy

    pam = UserFactory(email="pam@acme.example", full_name="Pam Privacy")
    add_member(acme, pam, "privacy_officer")
    _phone_policy(acme, lending, olivia, bob)
    record = _decide(acme, "lead-7", PHONE)
    with scope.org_scope(acme.id):
        key = SubjectKey.objects.get(subject_token=record.subject_token)
    page = f"/admin/privacy/subjectkey/{key.pk}/sealed/"
    browser = verified_client(client, pam)
    listing = browser.get(page)
    assert listing.status_code == 200 and str(record.id) in listing.content.decode()
    assert PHONE not in listing.content.decode()
    assert browser.post(page, {"decision": str(record.id), "do": "read", "purpose": "decision.audit"}).status_code == 302
    assert browser.post(page, {"decision": str(record.id), "do": "request", "reason": "subject's access request"}
                        ).status_code == 302
    with scope.org_scope(acme.id):
        request = ApprovalRequest.objects.get(action="vault.unseal", requested_by=pam)
        approval_grant(request=request, actor=as_member(acme, olivia))
    read = browser.post(page, {"decision": str(record.id), "do": "read", "purpose": "decision.audit"})
    assert read.status_code == 200 and PHONE in read.content.decode() and "no-store" in read["Cache-Control"]
    again = browser.post(page, {"decision": str(record.id), "do": "read", "purpose": "decision.audit"})
    assert again.status_code == 302  # an approval opens one value once
    assert verified_client(client, alice).get(page).status_code in (302, 403, 404)  # no privacy.read
    assert verified_client(client, mallory).get(page).status_code in (302, 404)  # another org's key
