"""A key issued for one project stays in it: another project's objects are "not found" (404) on every
endpoint that takes an object id, and absent from every list. The endpoints are enumerated from the
URL resolver, so a new one is covered without editing this file."""

import re

import pytest

from decisions.models import DecisionRecord, PolicySet, PolicyVersion, Simulation
from decisions.simulation_jobs import simulation_create
from dos import scope
from dos.api.views import project_lookup_for
from hitl.models import Appeal, Case
from tenancy import services
from tenancy.models import ApiKey, Membership, Project
from tenancy.roles import PERMISSIONS
from tests.conftest import api_client
from tests.factories import default_project, make_key
from tests.tenancy.test_org_status import api_routes

pytestmark = pytest.mark.django_db
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
ORG_WIDE = {Membership}  # org resources (members), not a project's: the same for every key of the org


@pytest.fixture
def world(acme, olivia, lending, desk, alice):
    """Project P (the default one) with one of everything; project Q with an all-scopes key."""
    from tests.hitl.test_appeals import _decided_case

    p = default_project(acme)
    p_key = make_key(acme, scopes=sorted(PERMISSIONS), name="P admin")
    lender = api_client(make_key(acme, scopes=["decisions.run", "decisions.read"], name="P lender"))
    case = _decided_case(acme, lender, alice)
    appeal = lender.post(f"/api/v1/hitl/cases/{case.id}/appeal", {"reason": "Income misread."}, format="json")
    assert appeal.status_code == 201
    author = make_key(acme, scopes=["policy.write", "policy.read"], name="olivia's key")
    with scope.org_scope(acme.id):
        ApiKey.objects.filter(id=author.key.id).update(created_by=olivia)  # a person's key: drafts need an author
    author = api_client(author)
    drafted = author.post("/api/v1/policies", {"source": lending.source, "semver": "0.2.0"}, format="json")
    assert drafted.status_code == 201, drafted.content
    with scope.org_scope(acme.id):
        draft = PolicyVersion.objects.get(id=drafted.json()["id"])
        sim = simulation_create(project=p, version=draft, dataset="pack:lending_brokerage", actor="system:test")
        q = services.project_create(org=acme, name="Quarry", slug="quarry", actor="system:test")
        objects = {
            Project: p.id, ApiKey: p_key.key.id, PolicySet: lending.policy_set_id, PolicyVersion: draft.id,
            DecisionRecord: case.decision_id, Simulation: sim.id, Case: case.id,
            Appeal: Appeal.objects.get(case=case).id,
        }
    q_key = make_key(acme, scopes=sorted(PERMISSIONS), project=q, name="Q admin")
    return {"p": p, "q": q, "objects": objects, "p_api": api_client(p_key), "q_api": api_client(q_key),
            "draft": draft, "decision": case.decision_id}


def id_endpoints(objects: dict) -> list[tuple[str, str, bool]]:
    """(method, url, primary) for every route with an object id, filled with project P's objects;
    ``primary`` when the route's only ids are the object's and its project's."""
    out = []
    for route, callback in api_routes():
        params = _PARAM.findall(route)
        if not params:
            continue
        view = callback.cls
        model = view.queryset.model
        if model in ORG_WIDE or getattr(view, "project_lookup", None) == "":
            continue  # the view declares an org-wide resource (invoices, credit notes, privacy requests)
        assert model in objects, f"{route}: add a {model.__name__} of project P to the world fixture"
        values = {"pk": objects[model], "project_pk": objects[Project]}
        url = "/" + _PARAM.sub(lambda m, v=values: str(v.get(m.group(1), "00000000-0000-4000-8000-000000000000")),
                               route)
        primary = set(params) <= set(values)
        for method in callback.actions:
            out.append((method, url, primary))
    return out


def test_it_knows_how_each_resource_reaches_its_project():
    assert project_lookup_for(Project) == "pk"
    assert project_lookup_for(DecisionRecord) == "project_id"
    assert project_lookup_for(PolicyVersion) == "policy_set__project_id"
    assert project_lookup_for(Appeal) == "case__project_id"
    assert project_lookup_for(Membership) is None


def test_a_key_of_project_q_gets_404_for_every_project_p_object(world):
    endpoints = id_endpoints(world["objects"])
    assert len(endpoints) >= 20
    for method, url, _primary in endpoints:
        response = getattr(world["q_api"], method)(url, {}, format="json")
        assert response.status_code == 404, (method, url, response.status_code, response.content[:300])
    with scope.org_scope(world["p"].org_id):
        assert PolicyVersion.objects.get(id=world["draft"].id).status == "draft"  # nothing was acted on
        assert Project.objects.get(id=world["p"].id).archived_at is None


def test_the_key_of_project_p_reaches_the_same_objects(world):
    # The control: the ids above are real, so the 404s come from the project boundary.
    for method, url, primary in id_endpoints(world["objects"]):
        if method == "get" and primary:
            response = world["p_api"].get(url)
            assert response.status_code in (200, 409), (url, response.status_code, response.content[:300])


def test_lists_show_a_project_q_key_nothing_of_project_p(world):
    q_api, p_api = world["q_api"], world["p_api"]
    assert [p["slug"] for p in q_api.get("/api/v1/projects").json()["results"]] == ["quarry"]
    for url in ("/api/v1/decisions", "/api/v1/policies", "/api/v1/hitl/cases", "/api/v1/hitl/appeals",
                f"/api/v1/projects/{world['q'].id}/api-keys"):
        body = q_api.get(url).json()
        rows = body["results"] if isinstance(body, dict) else body
        assert all(r.get("project") in (None, str(world["q"].id)) for r in rows), url
        if "api-keys" not in url:
            assert rows == [], url
            assert p_api.get(url).json()["results"], url  # the same list is not empty for P's key


def test_ids_sent_in_a_body_stay_within_the_project_too(world):
    q_api = world["q_api"]
    simulate = q_api.post("/api/v1/simulate", {"policy_version": str(world["draft"].id),
                                               "dataset": "pack:lending_brokerage"}, format="json")
    assert simulate.status_code == 404 and "policy_version" in simulate.json()["errors"]
    case = q_api.post("/api/v1/hitl/cases", {"decision_id": str(world["decision"]), "reason_codes": ["X"]},
                      format="json")
    assert case.status_code == 404 and "decision_id" in case.json()["errors"]
