"""Consent through the API: grant, revoke, history — problem+json for bad input, Idempotency-Key on
writes, the history append-only in the database, and every change on the audit chain."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from dos import scope
from dos.authz import system_actor
from dos.models import LedgerEntry
from privacy.consent import consent_grant, privacy_settings, privacy_settings_save, subject_token_of
from privacy.models import Consent, ConsentEvent
from tests.conftest import api_client
from tests.factories import make_key

pytestmark = pytest.mark.django_db
SYSTEM = system_actor("test")


@pytest.fixture
def officer_api(acme):
    return api_client(make_key(acme, scopes=["privacy.read", "privacy.manage"], name="consent desk"))


def grant_body(**changes):
    return {"subject_id": "lead-1", "purposes": ["loan_screening", "credit_bureau_check"], "scopes": ["income"],
            "source": "web_form:v3", "evidence_ref": "form-2026-0042", **changes}


def test_grant_then_history_then_revoke(officer_api, acme):
    response = officer_api.post("/api/v1/consent", grant_body(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "active" and body["subject_token"] == subject_token_of(acme.id, "lead-1")
    assert body["purposes"] == ["credit_bureau_check", "loan_screening"]
    assert [e["kind"] for e in body["events"]] == ["granted"]
    history = officer_api.get("/api/v1/consent", {"subject": "lead-1"}).json()
    assert [c["id"] for c in history["consents"]] == [body["id"]]
    assert officer_api.get("/api/v1/consent", {"subject": body["subject_token"]}).json() == history
    revoked = officer_api.post("/api/v1/consent/revoke", {"consent_id": body["id"], "reason": "by phone"},
                               format="json")
    assert revoked.status_code == 200 and revoked.json() == {"revoked": [body["id"]]}
    [consent] = officer_api.get("/api/v1/consent", {"subject": "lead-1"}).json()["consents"]
    assert consent["status"] == "revoked" and [e["kind"] for e in consent["events"]] == ["granted", "revoked"]
    again = officer_api.post("/api/v1/consent/revoke", {"consent_id": body["id"]}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "consent_ended"
    assert again["Content-Type"].startswith("application/problem+json")
    with scope.org_scope(acme.id):
        actions = list(LedgerEntry.objects.filter(org_id=acme.id, chain="audit", target=f"consent:{body['id']}")
                       .order_by("seq").values_list("action", flat=True))
    assert actions == ["consent.granted", "consent.revoked"]


def test_revoke_a_subjects_consents_for_some_purposes(officer_api, acme):
    screening = officer_api.post("/api/v1/consent", grant_body(purposes=["loan_screening"]), format="json").json()
    marketing = officer_api.post("/api/v1/consent", grant_body(purposes=["marketing"]), format="json").json()
    response = officer_api.post("/api/v1/consent/revoke", {"subject_id": "lead-1", "purposes": ["marketing"]},
                                format="json")
    assert response.json() == {"revoked": [marketing["id"]]}
    statuses = {c["id"]: c["status"] for c in officer_api.get("/api/v1/consent", {"subject": "lead-1"}).json()[
        "consents"]}
    assert statuses == {screening["id"]: "active", marketing["id"]: "revoked"}
    nothing = officer_api.post("/api/v1/consent/revoke", {"subject_id": "lead-1", "purposes": ["marketing"]},
                               format="json")
    assert nothing.json() == {"revoked": []}


@pytest.mark.parametrize(("body", "field"), [
    (grant_body(purposes=[]), "purposes"),
    (grant_body(purposes="loan_screening"), "purposes"),
    (grant_body(subject_token="vt_x"), "subject_id"),
    ({k: v for k, v in grant_body().items() if k != "subject_id"}, "subject_id"),
    (grant_body(source=7), "source"),
    (grant_body(lawful_basis="because"), "lawful_basis"),
])
def test_bad_grants_are_problems_naming_the_field_and_write_nothing(officer_api, acme, body, field):
    response = officer_api.post("/api/v1/consent", body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in response.json()["errors"], response.json()
    with scope.org_scope(acme.id):
        assert not Consent.objects.filter(org_id=acme.id).exists()


@pytest.mark.parametrize("window", [{"valid_from": "2030-01-02T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"},
                                    {"valid_until": "2001-01-01T00:00:00Z"}])
def test_a_window_that_ends_before_it_starts_is_a_conflict_naming_the_field(officer_api, acme, window):
    response = officer_api.post("/api/v1/consent", grant_body(**window), format="json")
    assert response.status_code == 409 and response.json()["code"] == "consent_window"
    assert "valid_until" in response.json()["errors"]
    closed = officer_api.post("/api/v1/consent", grant_body(valid_from="2020-01-01T00:00:00Z",
                                                            valid_until="2021-01-01T00:00:00Z"), format="json")
    assert closed.status_code == 201 and closed.json()["status"] == "expired"  # recorded as it was


def test_revoke_and_history_validation(officer_api):
    assert officer_api.post("/api/v1/consent/revoke", {}, format="json").status_code == 400
    both = officer_api.post("/api/v1/consent/revoke", {"consent_id": str(uuid.uuid4()), "subject_id": "x"},
                            format="json")
    assert both.status_code == 400 and "consent_id" in both.json()["errors"]
    missing = officer_api.post("/api/v1/consent/revoke", {"consent_id": str(uuid.uuid4())}, format="json")
    assert missing.status_code == 404 and "consent_id" in missing.json()["errors"]
    assert officer_api.get("/api/v1/consent").status_code == 400
    assert officer_api.get("/api/v1/consent", {"subject": "x" * 201}).status_code == 400
    purposes = officer_api.post("/api/v1/consent/revoke", {"consent_id": str(uuid.uuid4()), "purposes": []},
                                format="json")
    assert purposes.status_code == 400 and "purposes" in purposes.json()["errors"]


def test_the_same_idempotency_key_records_one_consent(officer_api, acme):
    headers = {"HTTP_IDEMPOTENCY_KEY": "consent-lead-1-0042"}
    first = officer_api.post("/api/v1/consent", grant_body(), format="json", **headers)
    second = officer_api.post("/api/v1/consent", grant_body(), format="json", **headers)
    assert first.status_code == second.status_code == 201 and first.json()["id"] == second.json()["id"]
    other = officer_api.post("/api/v1/consent", grant_body(source="branch:gangnam"), format="json", **headers)
    assert other.status_code == 422
    with scope.org_scope(acme.id):
        assert Consent.objects.filter(org_id=acme.id).count() == 1


def test_a_key_without_privacy_scopes_is_refused(acme):
    lender = api_client(make_key(acme, scopes=["decisions.run"]))
    assert lender.post("/api/v1/consent", grant_body(), format="json").status_code == 403
    assert lender.get("/api/v1/consent", {"subject": "lead-1"}).status_code == 403
    reader = api_client(make_key(acme, scopes=["privacy.read"]))
    assert reader.get("/api/v1/consent", {"subject": "lead-1"}).status_code == 200
    assert reader.post("/api/v1/consent/revoke", {"subject_id": "lead-1"}, format="json").status_code == 403


@pytest.mark.parametrize("table", ["privacy_consent", "privacy_consentevent"])
def test_the_consent_history_is_append_only_in_the_database(acme, table):
    with scope.org_scope(acme.id):
        consent_grant(org_id=acme.id, subject_token="vt_a", purposes=["loan_screening"], source="t", actor=SYSTEM)
        for statement in (f"UPDATE {table} SET subject_token = 'vt_b' WHERE org_id = %s",
                          f"DELETE FROM {table} WHERE org_id = %s"):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
                cur.execute(statement, [acme.id])
        assert Consent.objects.filter(org_id=acme.id, subject_token="vt_a").count() == 1
        assert ConsentEvent.objects.filter(org_id=acme.id, subject_token="vt_a").count() == 1


def test_a_consent_ends_once_even_when_the_database_is_asked_twice(acme):
    with scope.org_scope(acme.id):
        consent = consent_grant(org_id=acme.id, subject_token="vt_a", purposes=["p"], source="t", actor=SYSTEM)
        ConsentEvent.objects.create(org_id=acme.id, consent=consent, subject_token="vt_a", kind="revoked",
                                    at=timezone.now(), actor="t")
        with pytest.raises(DatabaseError), transaction.atomic():
            ConsentEvent.objects.create(org_id=acme.id, consent=consent, subject_token="vt_a", kind="expired",
                                        at=timezone.now() + timedelta(seconds=1), actor="t")


def test_settings_defaults_validation_and_deadlines(acme):
    with scope.org_scope(acme.id):
        defaults = privacy_settings(acme.id)
        assert (defaults.pk is None or defaults._state.adding) and defaults.consent_mode == "deny"
        assert defaults.dsar_days("erasure") == 10 and defaults.dsar_legal_max_days == 30
        assert defaults.dsar_target_days == 7
        saved = privacy_settings_save(org_id=acme.id, actor=SYSTEM, consent_mode="monitor",
                                      dsar_due_days={"access": 5, "erasure": 10}, lawful_bases={"aml": "legal_obligation"})
        assert privacy_settings(acme.id).pk == saved.pk and saved.basis_for("aml") == "legal_obligation"
        assert privacy_settings(acme.id).consent_mode == "monitor"
        received = timezone.now()
        assert saved.dsar_due_at("access", received) == received + timedelta(days=5)
        assert saved.dsar_warn_at("access", received) == received + timedelta(days=5) - timedelta(hours=48)
        from dos.errors import FieldErrors
        for bad in ({"dsar_due_days": {"access": 31}}, {"lawful_bases": {"x": "consent"}},
                    {"dsar_target_days": 40}, {"consent_mode": "maybe"}, {"colour": "red"}):
            with pytest.raises(FieldErrors) as refused:
                privacy_settings_save(org_id=acme.id, actor=SYSTEM, **bad)
            assert set(refused.value.errors) == set(bad), refused.value.errors
        assert privacy_settings(acme.id).dsar_days("access") == 5


def test_the_beat_sweep_expires_lapsed_consents_in_every_org(acme, outsider):
    from privacy.consent.tasks import consent_expire_all

    now = timezone.now()
    for org in (acme, outsider):
        with scope.org_scope(org.id):
            consent_grant(org_id=org.id, subject_token="vt_a", purposes=["p"], source="t", actor=SYSTEM,
                          valid_from=now - timedelta(days=2), valid_until=now + timedelta(days=1), now=now)
    assert consent_expire_all(now=(now + timedelta(hours=1)).isoformat()) == 0
    assert consent_expire_all(now=(now + timedelta(days=1, seconds=1)).isoformat()) == 2
    assert consent_expire_all(now=(now + timedelta(days=3)).isoformat()) == 0


def test_consent_lookup_in_the_back_office_by_token_or_applicant_id(client, acme):
    from tenancy.choices import OrgRole
    from tests.factories import UserFactory, add_member, verified_client

    with scope.org_scope(acme.id):
        consent = consent_grant(org_id=acme.id, subject_token=subject_token_of(acme.id, "lead-77"),
                                purposes=["loan_screening"], source="branch", actor=SYSTEM)
        consent_grant(org_id=acme.id, subject_token="vt_other", purposes=["marketing"], source="web", actor=SYSTEM)
    officer = UserFactory(email="officer@acme.example")
    add_member(acme, officer, OrgRole.PRIVACY_OFFICER)
    c = verified_client(client, officer)
    for term in (consent.subject_token, "lead-77"):
        page = c.get("/admin/privacy/consent/", {"q": term})
        assert page.status_code == 200 and page.context_data["cl"].result_count == 1, term
    detail = c.get(f"/admin/privacy/consent/{consent.pk}/change/")
    assert detail.status_code == 200
    [events] = detail.context_data["inline_admin_formsets"]
    assert [form.original.kind for form in events] == ["granted"]
    c.post("/admin/privacy/consent/", {"action": "revoke_selected", "_selected_action": [str(consent.pk)],
                                       "confirmed": "yes"})
    with scope.org_scope(acme.id):
        assert consent.events.filter(kind="revoked").exists()
    settings_page = c.post("/admin/privacy/privacysettings/add/", {
        "consent_mode": "refuse", "lawful_bases": '{"aml": "legal_obligation"}',
        "dsar_due_days": '{"access": 10, "rectification": 10, "erasure": 10, "restriction": 10}',
        "dsar_legal_max_days": 30, "dsar_target_days": 7, "dsar_warning_hours": 48})
    assert settings_page.status_code == 302, settings_page.content[:800]
    with scope.org_scope(acme.id):
        assert privacy_settings(acme.id).consent_mode == "refuse"
