"""Tenant API for cases: open, list, act — with problem+json for refusals and outsider isolation."""

import pytest

from dos import scope
from hitl.models import Case
from tenancy import services
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import default_project, make_key

pytestmark = pytest.mark.django_db


def _person_key(org, user, scopes):
    """A key with a person behind it (made by an admin for ``user``'s own tooling)."""
    from tenancy.models import ApiKey

    with scope.org_scope(org.id):
        created = services.apikey_create(project=default_project(org), name=f"{user.email} key", scopes=scopes,
                                         actor="system:test")
        ApiKey.objects.filter(pk=created.key.pk).update(created_by=user)
        created.key.created_by = user
        return created


@pytest.fixture
def alice_api(acme, alice, desk):
    return api_client(_person_key(acme, alice, ["hitl.review", "decisions.read"]))


def test_a_case_opened_for_a_decision_can_be_listed_filtered_and_approved(acme, lending, desk, alice, alice_api):
    lender = api_client(make_key(acme, scopes=["decisions.run"]))
    decided = decide(lender, credit_score=650).json()
    listed = alice_api.get("/api/v1/hitl/cases", {"status": "open", "reason": "CREDIT_BORDERLINE"}).json()
    assert [c["id"] for c in listed["results"]] == [decided["case_id"]]
    case = listed["results"][0]
    assert case["allowed_actions"] == ["approve", "deny", "request_docs", "escalate", "comment", "close"]
    response = alice_api.post(f"/api/v1/hitl/cases/{case['id']}/actions", {"action": "approve"}, format="json")
    body = response.json()
    assert response.status_code == 200 and (body["status"], body["outcome"]) == ("closed", "approve")
    assert [e["kind"] for e in body["events"]][-1] == "approve"


def test_an_illegal_transition_is_409_with_the_allowed_actions(acme, desk, alice_api):
    created = alice_api.post("/api/v1/hitl/cases", {"payload": {"phone": "010-1234-5678"}, "priority": "p1"},
                             format="json")
    assert created.status_code == 201
    case_id = created.json()["id"]
    assert "1234-5678" not in str(created.json()["summary"])  # personal data is masked in the case summary
    # alice opened it, so another reviewer must act; the state machine is checked first.
    response = alice_api.post(f"/api/v1/hitl/cases/{case_id}/actions", {"action": "override", "outcome": "deny",
                                                                         "comment": "x"}, format="json")
    assert response.status_code == 409 and response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "illegal_transition"
    assert response.json()["allowed"] == ["approve", "deny", "request_docs", "escalate", "comment", "close"]


def test_acting_on_your_own_case_is_refused_clearly_and_changes_nothing(acme, desk, alice_api):
    case_id = alice_api.post("/api/v1/hitl/cases", {"payload": {"a": 1}}, format="json").json()["id"]
    response = alice_api.post(f"/api/v1/hitl/cases/{case_id}/actions", {"action": "approve"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "conflict_of_interest"
    with scope.org_scope(acme.id):
        assert Case.objects.get(pk=case_id).status == "open"


def test_bad_requests_get_field_errors(acme, desk, alice_api):
    both = alice_api.post("/api/v1/hitl/cases", {}, format="json")
    assert both.status_code == 400 and "decision_id" in both.json()["errors"]
    case_id = alice_api.post("/api/v1/hitl/cases", {"payload": {"a": 1}}, format="json").json()["id"]
    bad = alice_api.post(f"/api/v1/hitl/cases/{case_id}/actions", {"action": "teleport"}, format="json")
    assert bad.status_code == 400 and "action" in bad.json()["errors"]


def test_an_outsider_sees_no_case_and_cannot_act(acme, outsider, mallory, desk, alice_api):
    case_id = alice_api.post("/api/v1/hitl/cases", {"payload": {"a": 1}}, format="json").json()["id"]
    outsider_api = api_client(_person_key(outsider, mallory, ["hitl.review"]))
    assert outsider_api.get("/api/v1/hitl/cases").json()["results"] == []
    assert outsider_api.get(f"/api/v1/hitl/cases/{case_id}").status_code == 404
    act = outsider_api.post(f"/api/v1/hitl/cases/{case_id}/actions", {"action": "approve"}, format="json")
    assert act.status_code == 404
    own = outsider_api.post("/api/v1/hitl/cases", {"payload": {"a": 1}}, format="json")
    assert own.status_code == 201 and own.json()["queue"] == "review"  # the first case sets up Outsider's own desk
    with scope.org_scope(outsider.id):
        assert Case.objects.count() == 1
    with scope.org_scope(acme.id):
        assert Case.objects.count() == 1
