"""/decide end to end (Gate-A): decisions, reason codes, rule paths, the decisions chain, metering."""

import io
import json

import pytest
from django.core.management import call_command

from billing.models import MeterEvent
from decisions import services
from decisions.models import DecisionRecord, PolicyVersion
from dos import scope
from dos.models import LedgerEntry
from tests.conftest import api_client
from tests.factories import as_member, default_project, make_key, plan_override

BASE = {"age": 35, "income_monthly": 3500000, "dsr": 32.0, "credit_score": 720, "employment_months": 36,
        "delinquencies_12m": 0, "documents_missing": [], "consent_credit_check": True, "loan_amount": 30000000,
        "product": "personal"}


@pytest.fixture
def decide_api(acme, lending):
    return api_client(make_key(acme, scopes=["decisions.run", "decisions.read", "policy.read"], name="lender"))


def decide(client, subject="lead-1", **changes):
    return client.post("/api/v1/decide", {"subject_id": subject, "purpose": "loan_screening",
                                          "input": {**BASE, **changes}}, format="json")


def codes(response):
    return [r["code"] for r in response.json()["reason_codes"]]


@pytest.mark.django_db
def test_gate_a_approve_deny_and_review(decide_api, acme, lending):
    approve = decide(decide_api, credit_score=800, dsr=22.0)
    deny = decide(decide_api, dsr=48.5)
    review = decide(decide_api, documents_missing=["income_proof"])
    assert [r.status_code for r in (approve, deny, review)] == [200, 200, 200]
    assert (approve.json()["outcome"], codes(approve)) == ("approve", ["FAST_TRACK"])
    assert (deny.json()["outcome"], codes(deny)) == ("deny", ["DSR_HIGH"])
    assert (review.json()["outcome"], codes(review)) == ("review", ["DOCS_MISSING"])
    path = {step["rule_id"]: step for step in deny.json()["rule_path"]}
    assert len(path) == 11 and path["P010_dsr_high"]["fired"] is True and path["R040_credit_low"]["fired"] is False
    assert deny.json()["policy_version"] == {"policy": "lending_triage", "version": "0.1.0", "sha256": lending.sha256}
    assert deny.json()["reason_codes"][0]["message"] == "총부채원리금상환비율(DSR) 40% 초과"
    out = io.StringIO()
    call_command("audit", "verify", "--chain", "decisions", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] and report["chains"][0]["checked"] == 3


@pytest.mark.django_db
def test_each_decision_is_recorded_chained_and_metered_without_raw_personal_data(decide_api, acme):
    response = decide(decide_api, subject="주민 900101-1234568")
    decision_id = response.json()["decision_id"]
    with scope.org_scope(acme.id):
        record = DecisionRecord.objects.get(id=decision_id)
        entry = LedgerEntry.objects.get(chain="decisions", seq=record.ledger_seq)
        assert entry.data["decision_id"] == decision_id and entry.hash == record.ledger_hash
        assert MeterEvent.objects.filter(metric="decision_calls", corr_id=decision_id, source="decide").count() == 1
    assert record.subject_token.startswith("vt_") and "900101" not in json.dumps(entry.data)
    assert "900101" not in record.subject_token


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"subject_id": "s", "purpose": "loan_screening", "input": {**BASE, "credit_score": "high"}}, "input.credit_score"),
    ({"subject_id": "s", "purpose": "loan_screening", "input": {**BASE, "bonus": 1}}, "input"),
    ({"subject_id": "s", "input": BASE}, "purpose"),
    ({"subject_id": "s", "purpose": "loan_screening", "input": "not an object"}, "input"),
])
def test_bad_input_is_a_field_error_and_nothing_is_written(decide_api, acme, body, field):
    response = decide_api.post("/api/v1/decide", body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    with scope.org_scope(acme.id):
        assert not DecisionRecord.objects.exists()
        assert not MeterEvent.objects.exists()
        assert not LedgerEntry.objects.filter(chain="decisions").exists()


@pytest.mark.django_db
def test_an_unknown_policy_is_not_found_and_nothing_is_written(decide_api, acme):
    response = decide_api.post("/api/v1/decide", {"subject_id": "s", "purpose": "loan_screening", "policy": "no_such_policy",
                                                  "input": BASE}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "policy_not_found")
    assert "policy" in response.json()["errors"]
    with scope.org_scope(acme.id):
        assert not DecisionRecord.objects.exists() and not MeterEvent.objects.exists()


@pytest.mark.django_db
def test_a_rule_that_errors_at_run_time_gives_review_with_rule_error(acme, olivia, bob, screening_basis):
    source = """
kind: decision
version: v1
name: fragile
inputs: {schema: {type: object, properties: {score: {type: integer}, history: {type: array}}}}
rules:
  - id: R1
    when: "size(history) > 3"
    then: [{action: deny}]
    audit: {reason_code: LONG_HISTORY}
defaults: {outcome: approve}
"""
    with scope.org_scope(acme.id):
        project = default_project(acme)
        version = services.version_create(project=project, source=source, semver="1.0.0", actor=as_member(acme, olivia))
        services.version_submit(version=version, actor=as_member(acme, olivia))
        services.version_approve(version=version, actor=as_member(acme, bob))
        services.version_publish(version=version, actor=as_member(acme, bob))
    client = api_client(make_key(acme, scopes=["decisions.run"]))
    response = client.post("/api/v1/decide", {"subject_id": "x", "purpose": "loan_screening", "policy": "fragile",
                                              "input": {"score": 1}}, format="json")
    assert response.json()["outcome"] == "review"
    assert codes(response) == ["RULE_ERROR"]


@pytest.mark.django_db(transaction=True)
def test_over_the_hard_quota_is_429_and_nothing_is_written(acme, lending):
    plan_override(acme, "quota.decision_calls_per_day", 2)
    client = api_client(make_key(acme, scopes=["decisions.run"]))
    assert [decide(client, subject=f"s{i}").status_code for i in range(2)] == [200, 200]
    refused = decide(client, subject="s3")
    assert refused.status_code == 429 and refused.json()["code"] == "usage_exceeded" and refused["Retry-After"]
    with scope.org_scope(acme.id):
        assert DecisionRecord.objects.count() == 2
        assert MeterEvent.objects.filter(metric="decision_calls").count() == 2


@pytest.mark.django_db
def test_an_outsider_sees_none_of_acmes_decisions_or_policies(decide_api, acme, outsider, lending):
    decision_id = decide(decide_api).json()["decision_id"]
    spy = api_client(make_key(outsider, scopes=["decisions.run", "decisions.read", "policy.read"]))
    assert spy.get(f"/api/v1/decisions/{decision_id}").status_code == 404
    assert spy.get("/api/v1/decisions").json()["results"] == []
    assert spy.get("/api/v1/policies").json()["results"] == []
    assert spy.get(f"/api/v1/policy-versions/{lending.id}").status_code == 404
    assert spy.get(f"/api/v1/policies/{lending.policy_set_id}/versions").status_code == 404
    assert "policy" in decide(spy).json()["errors"]  # Acme's published policy is not Outsider's


@pytest.mark.django_db
def test_decisions_can_be_listed_and_filtered(decide_api):
    decide(decide_api, dsr=48.5)
    decide(decide_api, documents_missing=["id_copy"])
    denied = decide_api.get("/api/v1/decisions", {"outcome": "deny"}).json()["results"]
    assert [d["outcome"] for d in denied] == ["deny"]
    by_reason = decide_api.get("/api/v1/decisions", {"reason": "DOCS_MISSING"}).json()["results"]
    assert [r["code"] for r in by_reason[0]["reason_codes"]] == ["DOCS_MISSING"]
    assert decide_api.get("/api/v1/decisions", {"policy": "lending_triage"}).json()["count"] == 2


@pytest.mark.django_db
def test_policy_versions_are_listed_with_their_state(decide_api, lending):
    sets = decide_api.get("/api/v1/policies").json()["results"]
    assert sets == [{**sets[0], "name": "lending_triage", "published": "0.1.0"}]
    versions = decide_api.get(f"/api/v1/policies/{lending.policy_set_id}/versions").json()
    assert [(v["semver"], v["status"]) for v in versions] == [("0.1.0", "published")]
    with scope.org_scope(lending.org_id):
        assert PolicyVersion.objects.get(id=lending.id).approver.email == "bob@acme.example"


@pytest.mark.django_db
def test_a_key_whose_project_is_archived_decides_nothing(acme, lending):
    from tenancy.services import project_archive, project_create

    with scope.org_scope(acme.id):
        side = project_create(org=acme, name="Side project", actor="system:test")
    key = make_key(acme, scopes=["decisions.run"], project=side)
    with scope.org_scope(acme.id):
        project_archive(project=side, actor="system:test")
    response = decide(api_client(key))  # archiving revoked the project's keys
    assert response.status_code == 401 and response.json()["code"] == "api_key_revoked"
    with scope.org_scope(acme.id):
        assert not DecisionRecord.objects.exists() and not MeterEvent.objects.exists()
