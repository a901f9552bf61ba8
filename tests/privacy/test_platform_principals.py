"""A platform account (DecisionOS superuser or platform role) holds every permission in platform
scope, but handles no tenant's personal data or keys: verifying a subject, handing out an export,
asking to read or reading a sealed value, approving any of these, and requesting, starting or
resuming a key rotation are refused to it — only the org's own members act on them."""

from __future__ import annotations

import pytest

from dos import scope
from dos.authz import PermissionRefused, system_actor
from privacy.dsar.services import dsar_verify, export_download
from privacy.vault import seal, unseal
from privacy.vault.keystore import create_keystore, reset_provider
from privacy.vault.rotation import rotation_request, rotation_resume
from privacy.vault.services import data_keys, unseal_request
from tenancy.approvals import FourEyesViolation, approval_grant
from tenancy.roles import PERMISSIONS
from tenancy.selectors import BrowserPrincipal
from tests.factories import UserFactory, as_member
from tests.privacy.dsar_world import submitted

pytestmark = pytest.mark.django_db
JOB = system_actor("test")


@pytest.fixture
def keystore(tmp_path, settings):
    settings.DOS_VAULT_KEYSTORE = str(create_keystore(tmp_path / "keystore.json"))
    data_keys.clear()
    reset_provider()
    yield
    data_keys.clear()
    reset_provider()


@pytest.fixture
def root(db):
    user = UserFactory(email="root@decisionos.example", is_superuser=True, is_staff=True)
    return BrowserPrincipal(user=user, org_id=None, platform=True, permissions=frozenset(PERMISSIONS))


def _refused(call):
    with pytest.raises(PermissionRefused) as caught:
        call()
    return caught.value


def test_a_platform_superuser_cannot_verify_a_subject_or_download_an_export(acme, lending, root):
    request = submitted(acme, "access")
    with scope.org_scope(acme.id):
        assert _refused(lambda: dsar_verify(request=request, actor=root, method="document")).code == \
            "tenant_member_required"
        assert _refused(lambda: export_download(request=request, actor=root)).code == "tenant_member_required"
        request.refresh_from_db()
        assert request.verified_at is None


def test_a_platform_superuser_cannot_ask_for_read_or_approve_reading_a_sealed_value(keystore, acme, olivia, bob,
                                                                                   root):
    sealed = seal(actor=JOB, org_id=acme.id, subject_token="vt_p", table="t", row="1", field="f", plaintext=b"x")
    with scope.org_scope(acme.id):
        _refused(lambda: unseal_request(actor=root, org_id=acme.id, sealed=sealed))
        _refused(lambda: unseal(actor=root, org_id=acme.id, sealed=sealed, purpose="decision.audit"))
        asked = unseal_request(actor=as_member(acme, olivia), org_id=acme.id, sealed=sealed)
        with pytest.raises(FourEyesViolation):
            approval_grant(request=asked, actor=root)
        asked.refresh_from_db()
        assert asked.status == "pending"
        approval_grant(request=asked, actor=as_member(acme, bob))  # a member of the org may


def test_a_member_of_another_org_is_refused_like_a_platform_account(keystore, acme, outsider, mallory):
    sealed = seal(actor=JOB, org_id=acme.id, subject_token="vt_p", table="t", row="1", field="f", plaintext=b"x")
    with scope.org_scope(acme.id):
        _refused(lambda: unseal_request(actor=as_member(outsider, mallory), org_id=acme.id, sealed=sealed))


def test_a_platform_superuser_cannot_request_or_resume_a_key_rotation(keystore, acme, root):
    from privacy.models import KekRotation, RotationStatus

    with scope.org_scope(acme.id):
        _refused(lambda: rotation_request(actor=root, org_id=acme.id, reason="support"))
        running = KekRotation.objects.create(org_id=acme.id, from_version=1, to_version=2,
                                             status=RotationStatus.RUNNING, requested_by="user:1",
                                             approval_id=__import__("uuid").uuid4())
        _refused(lambda: rotation_resume(actor=root, rotation=running))
