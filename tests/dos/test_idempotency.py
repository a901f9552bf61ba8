"""Idempotency-Key on writes: replay, mismatch, and exactly one effect under concurrency."""

import threading

import pytest
from django.db import connection

from dos import scope
from dos.models import LedgerEntry
from tenancy.models import Project
from tests.conftest import api_client


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
    good = acme_api.post("/api/v1/projects", {"slug": "risk", "name": "Risk"}, format="json",
                         HTTP_IDEMPOTENCY_KEY="k-4")
    assert good.status_code == 201


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
