"""Tenancy API: me, org, projects, members, audit events."""

import pytest

from dos import scope
from tenancy import services
from tenancy.models import Membership, Project
from tests.conftest import ADMIN_SCOPES, api_client
from tests.factories import default_project, make_key

pytestmark = pytest.mark.django_db


def test_me_describes_the_key(acme_api, acme, acme_key):
    body = acme_api.get("/api/v1/me").json()
    assert body["kind"] == "api_key"
    assert body["org"]["slug"] == "acme"
    assert body["api_key"] == f"dos_{acme_key.key.prefix}_…"
    assert "project.manage" in body["permissions"]


def test_orgs_current(acme_api):
    assert acme_api.get("/api/v1/orgs/current").json()["name"] == "Acme Lending"


def test_project_lifecycle(acme_api, acme):
    created = acme_api.post("/api/v1/projects", {"name": "Broker leads", "slug": "leads"}, format="json")
    assert created.status_code == 201
    project = created.json()
    assert project["environments"] == ["dev", "stage", "prod"] or sorted(project["environments"]) == ["dev", "prod", "stage"]
    # A key stays in the project it was issued for; the new project is managed with its own key.
    assert acme_api.get(f"/api/v1/projects/{project['id']}").status_code == 404
    with scope.org_scope(acme.id):
        leads = Project.objects.get(id=project["id"])
    leads_api = api_client(make_key(acme, scopes=ADMIN_SCOPES, project=leads))
    renamed = leads_api.patch(f"/api/v1/projects/{project['id']}", {"name": "Leads"}, format="json")
    assert renamed.json()["name"] == "Leads"
    assert leads_api.delete(f"/api/v1/projects/{project['id']}").status_code == 204
    with scope.org_scope(acme.id):
        assert Project.objects.get(id=project["id"]).archived_at is not None


def test_project_slugs_are_unique_per_org(acme_api, outsider_api):
    assert acme_api.post("/api/v1/projects", {"name": "X", "slug": "dup"}, format="json").status_code == 201
    again = acme_api.post("/api/v1/projects", {"name": "X", "slug": "dup"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "slug_taken" and "slug" in again.json()["errors"]
    assert outsider_api.post("/api/v1/projects", {"name": "X", "slug": "dup"}, format="json").status_code == 201


def test_members_add_list_remove_and_keep_an_owner(acme_api, acme, olivia):
    added = acme_api.post("/api/v1/members", {"email": "carol@acme.example", "role": "agent"}, format="json")
    assert added.status_code == 201
    members = acme_api.get("/api/v1/members").json()["results"]
    assert {(m["email"], m["role"]) for m in members} >= {("carol@acme.example", "agent"), ("olivia@acme.example", "owner")}
    assert acme_api.delete(f"/api/v1/members/{added.json()['id']}").status_code == 204
    owner = next(m for m in members if m["role"] == "owner")
    refused = acme_api.delete(f"/api/v1/members/{owner['id']}")
    assert refused.status_code == 403 and refused.json()["code"] == "owner_only"  # a key is never an owner
    with scope.org_scope(acme.id), pytest.raises(services.LastOwner, match="at least one owner"):
        services.membership_remove(membership=Membership.objects.get(pk=owner["id"]), actor="system:test")


def test_members_reject_unknown_roles(acme_api):
    response = acme_api.post("/api/v1/members", {"email": "x@acme.example", "role": "emperor"}, format="json")
    assert response.status_code == 400
    assert "role" in response.json()["errors"]


def test_audit_events_filter_and_paginate(acme_api, acme):
    for i in range(3):
        acme_api.post("/api/v1/projects", {"name": f"P{i}", "slug": f"p{i}"}, format="json")
    page = acme_api.get("/api/v1/audit/events", {"action": "project.created", "page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = acme_api.get(page["next"]).json()
    seqs = [e["seq"] for e in page["results"] + rest["results"]]
    assert seqs == sorted(seqs, reverse=True)
    assert len(seqs) == 4  # the default project plus three
    none = acme_api.get("/api/v1/audit/events", {"from": "2999-01-01T00:00:00Z"}).json()["results"]
    assert none == []


def test_a_project_is_visible_by_id(acme_api, acme):
    project = default_project(acme)
    assert acme_api.get(f"/api/v1/projects/{project.id}").json()["slug"] == "default"


def test_a_signed_in_verified_user_calls_the_api_in_their_org(client, alice):
    from tests.factories import verified_client

    c = verified_client(client, alice)
    body = c.get("/api/v1/me").json()
    assert body["kind"] == "user" and body["email"] == "alice@acme.example"
    assert body["org"]["slug"] == "acme"
    assert "hitl.review" in body["permissions"]
    # Reviewers may not manage members: the session principal carries the role's permissions only.
    assert c.get("/api/v1/members").json()["permission"] == "members.manage"


def test_a_session_without_totp_is_refused_by_the_api(client, alice):
    client.force_login(alice)
    response = client.get("/api/v1/me")
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "otp_required"


def test_people_added_as_members_have_no_usable_password(acme_api):
    from django.contrib.auth import get_user_model

    acme_api.post("/api/v1/members", {"email": "newcomer@acme.example", "role": "agent"}, format="json")
    user = get_user_model().objects.get(email="newcomer@acme.example")
    assert user.has_usable_password() is False
