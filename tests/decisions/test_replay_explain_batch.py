"""Replay, explanation and batch decisions."""

import io
import json

import pytest
from django.core.management import call_command

from decisions import services
from decisions.models import DecisionRecord
from decisions.packs import load_pack
from decisions.selectors import decision_replay
from dos import scope
from tests.conftest import api_client
from tests.decisions.test_decide_api import BASE, decide
from tests.factories import as_member, default_project, make_key


@pytest.fixture
def api(acme, lending):
    return api_client(make_key(acme, scopes=["decisions.run", "decisions.read"]))


@pytest.mark.django_db
def test_1000_recorded_decisions_replay_identically_also_after_a_new_version(api, acme, lending, olivia, bob):
    generator = load_pack("lending_brokerage").dataset_module()
    items = [{"subject_id": row["lead_id"], "purpose": "loan_screening", "input": generator.as_input(row)}
             for row in generator.generate(1000)]
    response = api.post("/api/v1/decide/batch", {"items": items}, format="json")
    assert response.status_code == 200 and response.json()["decided"] == 1000
    stricter = lending.source.replace('"dsr > 40.0"', '"dsr > 20.0"')
    with scope.org_scope(acme.id):
        v2 = services.version_create(project=default_project(acme), source=stricter, semver="0.2.0",
                                     actor=as_member(acme, olivia))
        services.version_submit(version=v2, actor=as_member(acme, olivia))
        services.version_approve(version=v2, actor=as_member(acme, bob))
        services.version_publish(version=v2, actor=as_member(acme, bob))
        records = list(DecisionRecord.objects.select_related("policy_version__policy_set"))
        replays = [decision_replay(r) for r in records]
    assert len(replays) == 1000
    assert sum(r["match"] for r in replays) == 1000
    assert {r["policy_version"] for r in replays} == {"0.1.0"}


@pytest.mark.django_db
def test_replay_through_the_api(api):
    decision_id = decide(api, dsr=48.5).json()["decision_id"]
    replay = api.post(f"/api/v1/decisions/{decision_id}/replay", format="json").json()
    assert replay == {**replay, "match": True, "diff": {}, "policy_version": "0.1.0"}


@pytest.mark.django_db
def test_explain_gives_customer_texts_in_korean_and_english(api):
    decision_id = decide(api, dsr=48.5, documents_missing=["id_copy"]).json()["decision_id"]
    explained = api.get(f"/api/v1/decisions/{decision_id}/explain").json()
    assert explained["outcome"] == "deny"
    assert [r["code"] for r in explained["reasons"]] == ["DSR_HIGH", "DOCS_MISSING"]
    assert explained["reasons"][0]["ko"].startswith("총부채원리금상환비율") and "DSR" in explained["reasons"][0]["en"]
    assert explained["chain"]["seq"] >= 1 and len(explained["chain"]["hash"]) == 64


@pytest.mark.django_db
def test_a_batch_judges_each_item_and_writes_one_chain(api, acme):
    items = [{"subject_id": "a", "purpose": "loan_screening", "input": BASE},
             {"subject_id": "b", "purpose": "loan_screening", "input": {**BASE, "dsr": "high"}},
             {"subject_id": "c", "input": BASE},
             {"subject_id": "d", "purpose": "loan_screening", "input": {**BASE, "dsr": 48.5}}]
    body = api.post("/api/v1/decide/batch", {"items": items}, format="json").json()
    assert (body["decided"], body["rejected"]) == (2, 2)
    assert [r.get("outcome") for r in body["results"]] == ["approve", None, None, "deny"]
    assert "input.dsr" in body["results"][1]["errors"] and "purpose" in body["results"][2]["errors"]
    out = io.StringIO()
    call_command("audit", "verify", "--org", "acme", "--chain", "decisions", "--json", stdout=out)
    assert json.loads(out.getvalue())["chains"][0]["checked"] == 2


@pytest.mark.django_db
def test_a_batch_over_1000_is_refused(api, acme):
    items = [{"subject_id": str(i), "purpose": "loan_screening", "input": BASE} for i in range(1001)]
    response = api.post("/api/v1/decide/batch", {"items": items}, format="json")
    assert response.status_code == 400 and "items" in response.json()["errors"]
    with scope.org_scope(acme.id):
        assert not DecisionRecord.objects.exists()


@pytest.mark.django_db
def test_an_outsider_cannot_explain_or_replay(api, outsider):
    decision_id = decide(api).json()["decision_id"]
    spy = api_client(make_key(outsider, scopes=["decisions.read"]))
    assert spy.get(f"/api/v1/decisions/{decision_id}/explain").status_code == 404
    assert spy.post(f"/api/v1/decisions/{decision_id}/replay", format="json").status_code == 404
