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
    by_token = spy.get("/api/v1/consent", {"subject": acme_consent.subject_token})
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
    assert c.get(f"/admin/privacy/subjectkey/{key.id}/sealed/").status_code in (302, 404)
    assert c.post(f"/admin/privacy/subjectkey/{key.id}/sealed/", {"decision": str(key.id), "do": "request",
                                                                  "reason": "x"}).status_code in (302, 404)
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


def test_dsar_endpoints_show_and_change_nothing_of_another_org(acme, outsider):
    from privacy.dsar.services import dsar_submit
    from privacy.models import DsarRequest

    with scope.org_scope(acme.id):
        request = dsar_submit(org_id=acme.id, kind="access", subject_id="lead-1", actor=system_actor("test"))
    spy = api_client(make_key(outsider, scopes=[*OUTSIDER_SCOPES, "dsar.fulfil"]))
    assert spy.get(f"/api/v1/dsar/{request.id}").status_code == 404
    # Naming acme's subject token from another org records a request of that org only, about nobody of acme's.
    made = spy.post("/api/v1/dsar", {"kind": "erasure", "subject_token": request.subject_token}, format="json")
    assert made.status_code == 201
    with scope.org_scope(acme.id):
        assert list(DsarRequest.objects.values_list("id", flat=True)) == [request.id]
    with scope.org_scope(outsider.id):
        assert DsarRequest.objects.get().kind == "erasure"


def test_privacy_request_and_retention_pages_show_nothing_of_another_org(client, acme, olivia, outsider, mallory):
    import datetime as dt

    from django.utils import timezone

    from dos.models import OutboxEvent
    from privacy.dsar.services import dsar_submit
    from privacy.holds import hold_place
    from privacy.retention.services import retention_plan
    from tests.factories import verified_client

    actor = system_actor("test")
    with scope.org_scope(acme.id):
        request = dsar_submit(org_id=acme.id, kind="access", subject_id="lead-1", actor=actor)
        hold = hold_place(org_id=acme.id, actor=actor, scope="subjects", targets=[request.subject_token],
                          reason="acme litigation")
        OutboxEvent.objects.create(org_id=acme.id, topic="t", key="k", status="delivered",
                                   created_at=timezone.now() - dt.timedelta(days=30))
        run = retention_plan(org_id=acme.id, actor=actor)
    c = verified_client(client, mallory)  # owner of the outsider org: holds every privacy permission there
    for page in ("dsarrequest", "retentionrun", "retentionrule", "legalhold"):
        listing = c.get(f"/admin/privacy/{page}/")
        text = listing.content.decode()
        assert listing.status_code == 200 and request.reference not in text and "acme litigation" not in text
        assert request.subject_token[:18] not in text
    for url in (f"/admin/privacy/dsarrequest/{request.pk}/change/", f"/admin/privacy/dsarrequest/{request.pk}/export/",
                f"/admin/privacy/dsarrequest/{request.pk}/reject/", f"/admin/privacy/legalhold/{hold.pk}/change/",
                f"/admin/privacy/retentionrun/{run.pk}/change/"):
        assert c.get(url).status_code in (302, 404), url
    c.post(f"/admin/privacy/dsarrequest/{request.pk}/reject/", {"reason": "not yours"})
    c.post("/admin/privacy/retentionrun/", {"action": "approve_runs", "_selected_action": [str(run.pk)],
                                             "confirmed": "yes", "typed_count": "1"})
    c.post("/admin/privacy/legalhold/", {"action": "release_holds", "_selected_action": [str(hold.pk)],
                                         "confirmed": "yes"})
    overview = c.get("/admin/privacy/dsarrequest/overview/").content.decode()
    assert request.reference not in overview and "acme litigation" not in overview
    with scope.org_scope(acme.id):
        request.refresh_from_db(), run.refresh_from_db(), hold.refresh_from_db()
        assert (request.state, run.status, hold.released_at) == ("intake", "proposed", None)
    mine = verified_client(client, olivia)
    assert request.reference in mine.get("/admin/privacy/dsarrequest/").content.decode()
