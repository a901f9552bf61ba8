"""Resuming a stopped rotation is a service of its own (``vault.rotate_resume``, primitive
``keys.rotate``): checked, refused for anything but a running rotation, and on the audit chain — the
back office's "Resume" action goes through it."""

from __future__ import annotations

import uuid

import pytest

from dos import scope
from dos.authz import PermissionRefused
from dos.models import LedgerEntry
from privacy.models import KekRotation, RotationStatus
from privacy.vault.rotation import RotationRefused, rotation_resume
from tests.factories import UserFactory, add_member, as_member, verified_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam(acme):
    user = UserFactory(email="sam@acme.example", full_name="Sam Security")
    add_member(acme, user, "security_admin")
    return user


def _rotation(org, status):
    with scope.org_scope(org.id):
        return KekRotation.objects.create(org_id=org.id, from_version=1, to_version=2, status=status,
                                          requested_by="user:1", total=10, done=4,
                                          approval_id=uuid.uuid4())


def test_resuming_needs_keys_rotate_and_a_running_rotation_and_is_audited(acme, sam, alice, django_capture_on_commit_callbacks):
    running = _rotation(acme, RotationStatus.RUNNING)
    with scope.org_scope(acme.id):
        with pytest.raises(PermissionRefused):
            rotation_resume(actor=as_member(acme, alice), rotation=running)
        with django_capture_on_commit_callbacks(execute=False) as sent:
            rotation_resume(actor=as_member(acme, sam), rotation=running)
        assert len(sent) == 1
        entry = LedgerEntry.objects.get(chain="audit", action="vault.rotation_resumed")
        assert entry.target == f"kek_rotation:{running.pk}" and entry.data["done"] == 4
        done = _rotation(acme, RotationStatus.COMPLETED)
        with pytest.raises(RotationRefused):
            rotation_resume(actor=as_member(acme, sam), rotation=done)


def test_the_back_office_resume_action_goes_through_the_service(client, acme, sam):
    running = _rotation(acme, RotationStatus.RUNNING)
    client = verified_client(client, sam)
    page = "/admin/privacy/kekrotation/"
    form = {"action": "resume_rotation", "_selected_action": [str(running.pk)]}
    assert client.post(page, form).status_code == 200  # the confirmation page
    client.post(page, {**form, "confirmed": "yes"})
    with scope.org_scope(acme.id):
        assert LedgerEntry.objects.filter(chain="audit", action="vault.rotation_resumed",
                                          target=f"kek_rotation:{running.pk}").count() == 1
