"""Four-eyes publishing, one published version per set, rollback (SPEC §9)."""

import pytest

from decisions.packs import load_pack
from tests.conftest import api_client

pytestmark = pytest.mark.django_db
BASE = {"age": 35, "income_monthly": 3500000, "dsr": 35.0, "credit_score": 720, "employment_months": 36,
        "delinquencies_12m": 0, "documents_missing": [], "consent_credit_check": True, "loan_amount": 30000000,
        "product": "personal"}


def key_of(org, user, scopes):
    from dos import scope
    from tenancy import services
    from tenancy.models import ApiKey, Project

    with scope.org_scope(org.id):
        created = services.apikey_create(project=Project.objects.get(org=org, slug="default"), name=f"{user.email}",
                                         scopes=scopes, actor="system:test")
        ApiKey.objects.filter(pk=created.key.pk).update(created_by=user)  # the person behind the key
    return api_client(created)


@pytest.fixture
def author_api(acme, olivia):
    return key_of(acme, olivia, ["policy.read", "policy.write", "policy.approve", "decisions.run"])


@pytest.fixture
def approver_api(acme, bob):
    return key_of(acme, bob, ["policy.read", "policy.approve"])


def create(client, source, semver):
    response = client.post("/api/v1/policies", {"source": source, "semver": semver}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def step(client, version_id, verb):
    return client.post(f"/api/v1/policy-versions/{version_id}/{verb}", format="json")


def test_the_author_cannot_approve_their_own_version(author_api):
    version = create(author_api, load_pack("lending_brokerage").rules["lending_triage"], "0.1.0")
    assert step(author_api, version, "submit").status_code == 200
    refused = step(author_api, version, "approve")
    assert refused.status_code == 403 and refused.json()["code"] == "four_eyes"
    assert "second person" in refused.json()["detail"]


def test_publishing_an_unapproved_version_is_refused_with_the_allowed_actions(author_api):
    version = create(author_api, load_pack("lending_brokerage").rules["lending_triage"], "0.1.0")
    refused = step(author_api, version, "publish")
    assert refused.status_code == 409
    assert refused.json()["code"] == "illegal_transition" and refused.json()["allowed"] == ["submit"]
    step(author_api, version, "submit")
    assert step(author_api, version, "publish").json()["allowed"] == ["approve"]


def test_a_draft_with_malformed_cel_is_refused_at_submit(author_api):
    broken = load_pack("lending_brokerage").rules["lending_triage"].replace('"dsr > 40.0"', '"dsr > > 40.0"')
    response = author_api.post("/api/v1/policies", {"source": broken, "semver": "0.9.0"}, format="json")
    if response.status_code == 201:  # drafts may hold problems; submitting must refuse them
        response = step(author_api, response.json()["id"], "submit")
    assert response.status_code == 400 and response.json()["code"] == "policy_invalid"
    issue = response.json()["issues"][0]
    assert issue["rule_id"] == "P010_dsr_high" and issue["line"] > 0 and issue["column"] > 0


def test_lint_reports_problems_without_storing_anything(author_api):
    response = author_api.post("/api/v1/policies/lint", {"source": "kind: decision\nname: x\nrules: []\n"}, format="json")
    assert response.json()["ok"] is False and response.json()["issues"]
    assert author_api.get("/api/v1/policies").json()["results"] == []


def test_rollback_restores_the_previous_behaviour(author_api, approver_api, screening_basis):
    source = load_pack("lending_brokerage").rules["lending_triage"]
    v1 = create(author_api, source, "0.1.0")
    v2 = create(author_api, source.replace('"dsr > 40.0"', '"dsr > 30.0"').replace("40% 초과", "30% 초과"), "0.2.0")
    for version in (v1, v2):
        step(author_api, version, "submit")
        assert step(approver_api, version, "approve").status_code == 200
        assert step(approver_api, version, "publish").status_code == 200

    def outcome():
        return author_api.post("/api/v1/decide", {"subject_id": "x", "purpose": "loan_screening", "input": BASE},
                               format="json").json()["outcome"]

    assert outcome() == "deny"  # v2: DSR 35 > 30
    assert author_api.get(f"/api/v1/policy-versions/{v1}").json()["status"] == "retired"
    assert step(approver_api, v1, "rollback").status_code == 200
    assert outcome() == "approve"  # v1 again: DSR 35 ≤ 40
    assert author_api.get(f"/api/v1/policy-versions/{v2}").json()["status"] == "retired"
