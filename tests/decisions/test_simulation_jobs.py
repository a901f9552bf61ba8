"""Simulation jobs through the API, on a real Celery worker."""

import pytest
from celery.result import AsyncResult

from decisions import services
from decisions.models import Simulation
from dos import scope
from tests.conftest import api_client
from tests.factories import as_member, default_project, make_key


@pytest.fixture
def versions(acme, olivia, lending):
    published = lending
    with scope.org_scope(acme.id):
        draft = services.version_create(project=default_project(acme),
                                        source=published.source.replace('"dsr > 40.0"', '"dsr > 30.0"'),
                                        semver="0.2.0", actor=as_member(acme, olivia))
    return published, draft


@pytest.mark.django_db(transaction=True)
def test_a_simulation_runs_on_a_worker_with_progress_and_a_report(celery_worker, acme, versions):
    _published, draft = versions
    api = api_client(make_key(acme, scopes=["decisions.run", "decisions.read"]))
    started = api.post("/api/v1/simulate", {"policy_version": str(draft.id), "dataset": "pack:lending_brokerage"},
                       format="json")
    assert started.status_code == 202 and started.json()["status"] == "queued"
    sim_id = started.json()["id"]
    with scope.org_scope(acme.id):
        task_id = Simulation.objects.get(id=sim_id).task_id
    assert AsyncResult(task_id).get(timeout=60) == "done"
    body = api.get(f"/api/v1/simulations/{sim_id}").json()
    assert (body["status"], body["rows_done"], body["progress_pct"]) == ("done", 1000, 100)
    assert body["champion_version"] == str(_published.id)
    assert body["report"]["flips"]["total"] > 0 and "approve->deny" in body["report"]["flips"]["by_change"]
    html = api.get(f"/api/v1/simulations/{sim_id}/report.html")
    assert html.status_code == 200 and b'id="flips"' in html.content


@pytest.mark.django_db
def test_an_uploaded_csv_is_simulated(acme, versions):
    from decisions.simulation_jobs import simulation_create, simulation_execute

    _published, draft = versions
    csv_text = ("lead_id,age,income_monthly,dsr,credit_score,employment_months,delinquencies_12m,documents_missing,"
                "consent_credit_check,loan_amount,product\n"
                "A1,35,3500000,35.5,720,36,0,,true,30000000,personal\n"
                "A2,35,3500000,25,720,36,0,income_proof;id_copy,true,30000000,personal\n")
    with scope.org_scope(acme.id):
        sim = simulation_create(project=default_project(acme), version=draft, dataset="upload", input_csv=csv_text,
                                actor="system:test")
    assert simulation_execute(org_id=str(acme.id), simulation_id=str(sim.id)) == "done"
    with scope.org_scope(acme.id):
        report = Simulation.objects.get(id=sim.id).report
    assert report["outcomes"] == {"approve": 0, "review": 1, "deny": 1}
    assert report["flips"]["by_change"] == {"approve->deny": 1}


@pytest.mark.django_db
def test_bad_requests_and_outsiders(acme, outsider, versions):
    _published, draft = versions
    api = api_client(make_key(acme, scopes=["decisions.run", "decisions.read"]))
    bad = api.post("/api/v1/simulate", {"policy_version": str(draft.id), "dataset": "upload"}, format="json")
    assert bad.status_code == 400 and "dataset" in bad.json()["errors"]
    spy = api_client(make_key(outsider, scopes=["decisions.run", "decisions.read"]))
    refused = spy.post("/api/v1/simulate", {"policy_version": str(draft.id), "dataset": "pack:lending_brokerage"},
                       format="json")
    assert refused.status_code == 404 and "policy_version" in refused.json()["errors"]  # another org's id
