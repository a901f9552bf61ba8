"""Idempotency-Key on writes: replay, mismatch, and exactly one effect under concurrency."""

import json
import threading

import pytest
from django.db import connection

from dos import scope
from dos.models import LedgerEntry
from tenancy.models import ApiKey, Project
from tests.conftest import api_client
from tests.factories import default_project


def project_count(org):
    with scope.org_scope(org.id):
        return Project.objects.filter(slug="risk").count()


@pytest.mark.django_db
def test_same_key_and_body_replays_the_response_with_one_effect(acme, acme_api):
    first = acme_api.post("/api/v1/projects", {"name": "Risk", "slug": "risk"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = acme_api.post("/api/v1/projects", {"name": "Risk", "slug": "risk"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert project_count(acme) == 1
    with scope.org_scope(acme.id):
        assert LedgerEntry.objects.filter(chain="audit", action="project.created", data__slug="risk").count() == 1


@pytest.mark.django_db
def test_same_key_with_another_body_is_422(acme_api):
    acme_api.post("/api/v1/projects", {"name": "Risk", "slug": "risk"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    response = acme_api.post("/api/v1/projects", {"name": "Other", "slug": "other"}, format="json",
                             HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


@pytest.mark.django_db
def test_keys_are_scoped_per_org(acme, outsider, acme_api, outsider_api):
    a = acme_api.post("/api/v1/projects", {"name": "Risk", "slug": "risk"}, format="json", HTTP_IDEMPOTENCY_KEY="same")
    b = outsider_api.post("/api/v1/projects", {"name": "Risk", "slug": "risk"}, format="json",
                          HTTP_IDEMPOTENCY_KEY="same")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.django_db
def test_a_failed_request_does_not_burn_the_key(acme, acme_api):
    bad = acme_api.post("/api/v1/projects", {"slug": "risk"}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert bad.status_code == 400
    # The same key again: the refused attempt left nothing behind, so the corrected request is a
    # first attempt (not a 422 for a reused key, not a replay of the 400).
    good = acme_api.post("/api/v1/projects", {"slug": "risk", "name": "Risk"}, format="json",
                         HTTP_IDEMPOTENCY_KEY="k-3")
    assert good.status_code == 201
    assert "Idempotent-Replayed" not in good
    assert project_count(acme) == 1


@pytest.mark.django_db(transaction=True)
def test_20_concurrent_identical_requests_have_one_effect(acme, acme_key):
    responses = []
    barrier = threading.Barrier(20)

    def call():
        try:
            client = api_client(acme_key)
            barrier.wait()
            responses.append(client.post("/api/v1/projects", {"name": "Risk", "slug": "risk"}, format="json",
                                         HTTP_IDEMPOTENCY_KEY="concurrent-1"))
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(responses) == 20
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert project_count(acme) == 1


def stored_response(org, key: str):
    with scope.org_scope(org.id), connection.cursor() as cur:
        cur.execute("SELECT response_body::text FROM dos_idempotencykey WHERE org_id = %s AND key = %s", [org.id, key])
        (body,) = cur.fetchone()
    return body


@pytest.mark.django_db
def test_a_replayed_key_creation_never_returns_the_secret_and_says_so(acme, acme_api):
    url = f"/api/v1/projects/{default_project(acme).id}/api-keys"
    first = acme_api.post(url, {"name": "ci"}, format="json", HTTP_IDEMPOTENCY_KEY="key-create-1")
    assert first.status_code == 201
    secret = first.json()["secret"]
    assert secret.startswith("dos_") and "replay_omitted" not in first.json()

    replay = acme_api.post(url, {"name": "ci"}, format="json", HTTP_IDEMPOTENCY_KEY="key-create-1")
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    body = replay.json()
    assert "secret" not in body
    assert body["replay_omitted"] == ["secret"]
    assert {k: v for k, v in body.items() if k != "replay_omitted"} == {
        k: v for k, v in first.json().items() if k != "secret"}
    assert secret not in replay.content.decode()
    with scope.org_scope(acme.id):
        assert ApiKey.objects.filter(name="ci").count() == 1


@pytest.mark.django_db
def test_the_stored_replay_of_a_key_creation_holds_no_secret(acme, acme_api):
    url = f"/api/v1/projects/{default_project(acme).id}/api-keys"
    created = acme_api.post(url, {"name": "ci"}, format="json", HTTP_IDEMPOTENCY_KEY="key-create-2").json()
    stored = stored_response(acme, "key-create-2")
    whole, tail = created["secret"], created["secret"].rsplit("_", 1)[1]
    assert whole not in stored and tail not in stored
    assert "secret" not in json.loads(stored)
    assert json.loads(stored)["prefix"] == created["prefix"]


@pytest.mark.django_db
def test_bodies_without_shown_once_fields_are_stored_whole(acme, acme_api):
    created = acme_api.post("/api/v1/projects", {"name": "Risk", "slug": "risk"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="whole-1").json()
    assert json.loads(stored_response(acme, "whole-1")) == created


def test_the_openapi_document_says_a_replay_has_no_secret():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    created = schema["components"]["schemas"]["ApiKeyCreatedOut"]
    assert "secret" not in created.get("required", [])
    assert "replay_omitted" in created["properties"]
    assert "never stored" in created["properties"]["secret"]["description"].lower()
