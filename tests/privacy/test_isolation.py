"""Outsider isolation on every privacy endpoint and admin page (SPEC §5): another org's key or member
sees 404 or nothing, and changes nothing."""

from __future__ import annotations

import pytest

from dos import scope
from dos.authz import system_actor
from privacy.consent import consent_grant, subject_token_of
from privacy.models import ConsentEvent
from tests.conftest import api_client
from tests.factories import make_key

pytestmark = pytest.mark.django_db
OUTSIDER_SCOPES = ["privacy.read", "privacy.manage", "decisions.run", "decisions.read"]


@pytest.fixture
def acme_consent(acme):
    with scope.org_scope(acme.id):
        return consent_grant(org_id=acme.id, subject_token=subject_token_of(acme.id, "lead-1"),
                             purposes=["loan_screening"], source="web_form:v3", actor=system_actor("test"))


def test_consent_endpoints_show_and_change_nothing_of_another_org(acme_consent, acme, outsider):
    spy = api_client(make_key(outsider, scopes=OUTSIDER_SCOPES))
    revoke = spy.post("/api/v1/consent/revoke", {"consent_id": str(acme_consent.id)}, format="json")
    assert revoke.status_code == 404
    by_token = spy.get("/api/v1/consent", {"subject_token": acme_consent.subject_token})
    by_subject = spy.get("/api/v1/consent", {"subject": "lead-1"})
    assert by_token.json()["consents"] == [] and by_subject.json()["consents"] == []
    # The same applicant id is another token in another org: a revoke by subject finds nothing here.
    assert by_subject.json()["subject_token"] != acme_consent.subject_token
    assert spy.post("/api/v1/consent/revoke", {"subject_token": acme_consent.subject_token},
                    format="json").json() == {"revoked": []}
    with scope.org_scope(acme.id):
        assert list(ConsentEvent.objects.filter(consent=acme_consent).values_list("kind", flat=True)) == ["granted"]


def test_vault_admin_pages_show_nothing_of_another_org(client, acme, olivia, outsider, mallory):
    from privacy.models import KekRotation, SubjectKey
    from privacy.vault import seal
    from tests.factories import verified_client

    seal(actor=system_actor("test"), org_id=acme.id, subject_token="vt_acme_only", table="t", row="1", field="f",
         plaintext=b"acme's secret")
    with scope.org_scope(acme.id):
        key = SubjectKey.objects.get(subject_token="vt_acme_only")
        rotation = KekRotation.objects.create(org_id=acme.id, from_version=1, to_version=2,
                                              approval_id=key.id, requested_by="user:olivia")
    c = verified_client(client, mallory)  # owner of the outsider org: holds privacy.read and keys.rotate
    for page in ("subjectkey", "kekrotation"):
        listing = c.get(f"/admin/privacy/{page}/")
        assert listing.status_code == 200 and "vt_acme_only" not in listing.content.decode()
    assert c.get(f"/admin/privacy/subjectkey/{key.id}/change/").status_code in (302, 404)
    assert c.get(f"/admin/privacy/kekrotation/{rotation.id}/change/").status_code in (302, 404)
    mine = verified_client(client, olivia)
    assert "vt_acme_only" in mine.get("/admin/privacy/subjectkey/").content.decode()


@pytest.fixture
def acme_scan(acme):
    from privacy.discovery import discovery_scan

    with scope.org_scope(acme.id):
        return discovery_scan(org_id=acme.id, dataset="acme.csv", content=b"email\nminji@naver.com\n",
                              actor=system_actor("test"))


def test_privacy_admin_pages_are_empty_for_an_outsider(client, acme_consent, acme_scan, acme, outsider):
    from tenancy.choices import OrgRole
    from tests.factories import UserFactory, add_member, verified_client

    officer = UserFactory(email="officer@outsider.example")
    add_member(outsider, officer, OrgRole.PRIVACY_OFFICER)
    add_member(outsider, officer, OrgRole.DATA_STEWARD)
    c = verified_client(client, officer)
    for page in ("consent", "privacysettings", "discoveryscan", "discoveryfinding"):
        response = c.get(f"/admin/privacy/{page}/")
        assert response.status_code == 200 and response.context_data["cl"].result_count == 0, page
    assert c.get(f"/admin/privacy/consent/?q={acme_consent.subject_token}").context_data["cl"].result_count == 0
    assert c.get(f"/admin/privacy/consent/{acme_consent.pk}/change/").status_code == 302
    assert c.get(f"/admin/privacy/discoveryscan/{acme_scan.pk}/change/").status_code == 302
    finding = acme_scan.findings.model.unscoped_objects.filter(scan_id=acme_scan.pk)
    with scope.org_scope(acme.id):
        finding_id = finding.get().pk
    for page, action in (("consent", "revoke_selected"), ("discoveryfinding", "confirm_selected")):
        target = acme_consent.pk if page == "consent" else finding_id
        c.post(f"/admin/privacy/{page}/", {"action": action, "_selected_action": [str(target)], "confirmed": "yes"})
    with scope.org_scope(acme.id):
        assert list(ConsentEvent.objects.filter(consent=acme_consent).values_list("kind", flat=True)) == ["granted"]
        assert finding.get().status == "proposed"
