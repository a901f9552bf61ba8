"""Outsider isolation on every decisions endpoint and admin page (SPEC §5)."""

import pytest

from decisions import services
from decisions.models import ReasonCode, Simulation
from decisions.simulation_jobs import simulation_create, simulation_execute
from dos import scope
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import as_member, default_project, make_key, verified_client

pytestmark = pytest.mark.django_db
OUTSIDER_SCOPES = ["decisions.run", "decisions.read", "policy.read", "policy.write", "policy.approve"]


@pytest.fixture
def acme_world(acme, olivia, lending):
    published = lending
    with scope.org_scope(acme.id):
        draft = services.version_create(project=default_project(acme), source=published.source, semver="0.2.0",
                                        actor=as_member(acme, olivia))
        sim = simulation_create(project=default_project(acme), version=draft, dataset="pack:lending_brokerage",
                                actor="system:test")
        ReasonCode.objects.create(org=acme, code="DSR_HIGH", ko="아크미 전용 문구", en="Acme-only wording")
    simulation_execute(org_id=str(acme.id), simulation_id=str(sim.id))
    decision_id = decide(api_client(make_key(acme, scopes=["decisions.run"]))).json()["decision_id"]
    return {"published": published, "draft": draft, "simulation": sim, "decision": decision_id}


def test_every_decisions_endpoint_answers_404_for_another_orgs_ids(acme_world, outsider, mallory):
    spy = api_client(make_key(outsider, scopes=OUTSIDER_SCOPES))
    w = acme_world
    for method, url in [
        ("get", f"/api/v1/decisions/{w['decision']}"),
        ("get", f"/api/v1/decisions/{w['decision']}/explain"),
        ("get", f"/api/v1/decisions/{w['decision']}/evidence"),
        ("post", f"/api/v1/decisions/{w['decision']}/replay"),
        ("get", f"/api/v1/policies/{w['published'].policy_set_id}/versions"),
        ("get", f"/api/v1/policy-versions/{w['draft'].id}"),
        ("post", f"/api/v1/policy-versions/{w['draft'].id}/submit"),
        ("post", f"/api/v1/policy-versions/{w['draft'].id}/approve"),
        ("post", f"/api/v1/policy-versions/{w['draft'].id}/publish"),
        ("post", f"/api/v1/policy-versions/{w['published'].id}/rollback"),
        ("get", f"/api/v1/simulations/{w['simulation'].id}"),
        ("get", f"/api/v1/simulations/{w['simulation'].id}/report.html"),
    ]:
        response = getattr(spy, method)(url, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
    with scope.org_scope(w["draft"].org_id):
        assert Simulation.objects.get(id=w["simulation"].id).status == "done"


def test_every_decisions_admin_page_is_empty_for_an_outsider(client, acme_world, mallory):
    c = verified_client(client, mallory)
    for page in ("policyset", "policyversion", "decisionrecord", "simulation", "reasoncode"):
        response = c.get(f"/admin/decisions/{page}/")
        assert response.status_code == 200 and response.context_data["cl"].result_count == 0, page
    detail = c.get(f"/admin/decisions/decisionrecord/{acme_world['decision']}/change/")
    assert detail.status_code == 302
    assert c.get(f"/admin/decisions/policyversion/{acme_world['draft'].id}/diff/").status_code == 404
    assert c.get(f"/admin/decisions/simulation/{acme_world['simulation'].id}/report/").status_code == 404
