"""An outsider org sees nothing of Acme's, through every path (SPEC §5)."""

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from dos import scope
from dos.scope import ScopeError
from tenancy.models import ApiKey, Membership, Project
from tests.factories import default_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_project(acme):
    return default_project(acme)


@pytest.fixture
def outsider_project(outsider):
    return default_project(outsider)


def test_the_orm_shows_only_the_scoped_org(acme, outsider, acme_project, outsider_project):
    with scope.org_scope(outsider.id):
        assert list(Project.objects.values_list("id", flat=True)) == [outsider_project.id]
        assert not Project.objects.filter(id=acme_project.id).exists()
        # Even the unscoped manager (no ORM guard) is filtered by the database.
        assert not Project.unscoped_objects.filter(org_id=acme.id).exists()


def test_raw_sql_and_cursors_are_filtered_by_the_database(acme, outsider, acme_project):
    with scope.org_scope(outsider.id):
        assert [p.id for p in Project.objects.raw("SELECT * FROM tenancy_project")] != []
        assert acme_project.id not in [p.id for p in Project.objects.raw("SELECT * FROM tenancy_project")]
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM tenancy_project WHERE org_id = %s", [acme.id])
            assert cur.fetchone() == (0,)
            cur.execute("SELECT count(*) FROM tenancy_apikey WHERE org_id = %s", [acme.id])
            assert cur.fetchone() == (0,)


def test_without_a_scope_the_orm_refuses_and_sql_sees_nothing(acme, outsider):
    with pytest.raises(ScopeError, match="tenant-owned"):
        list(Project.objects.all())
    with transaction.atomic(), connection.cursor() as cur:
        for table in ("tenancy_project", "tenancy_membership", "tenancy_apikey", "dos_ledgerentry", "tenancy_org"):
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone() == (0,), table


def test_writes_carrying_another_orgs_id_fail(acme, outsider, outsider_project):
    with scope.org_scope(acme.id):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Project.objects.create(org_id=outsider.id, name="Injected", slug="injected")
        # An UPDATE aimed at another org's row matches nothing.
        assert Project.unscoped_objects.filter(id=outsider_project.id).update(name="hijacked") == 0
    with scope.org_scope(outsider.id):
        assert Project.objects.get(id=outsider_project.id).name == "Default"


def test_a_scope_is_transaction_local(acme):
    with scope.org_scope(acme.id), connection.cursor() as cur:
        cur.execute("SELECT current_setting('dos.org_id', true)")
        assert cur.fetchone() == (str(acme.id),)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT current_setting('dos.org_id', true)")
        assert cur.fetchone()[0] in ("", None)


def test_the_api_answers_404_for_another_orgs_ids(acme, acme_project, acme_key, outsider_api, alice):
    for method, url in [
        ("get", f"/api/v1/projects/{acme_project.id}"),
        ("patch", f"/api/v1/projects/{acme_project.id}"),
        ("delete", f"/api/v1/projects/{acme_project.id}"),
        ("get", f"/api/v1/projects/{acme_project.id}/api-keys"),
        ("post", f"/api/v1/projects/{acme_project.id}/api-keys"),
        ("post", f"/api/v1/projects/{acme_project.id}/api-keys/{acme_key.key.id}/revoke"),
    ]:
        response = getattr(outsider_api, method)(url, {"name": "x"}, format="json")
        assert response.status_code == 404, (method, url, response.content)
    with scope.org_scope(acme.id):
        membership = Membership.objects.get(user=alice)
        assert ApiKey.objects.get(id=acme_key.key.id).revoked_at is None
    assert outsider_api.delete(f"/api/v1/members/{membership.id}").status_code == 404


def test_lists_only_show_the_callers_org(acme_api, outsider_api, alice, mallory):
    emails = {m["email"] for m in outsider_api.get("/api/v1/members").json()["results"]}
    assert emails == {"mallory@outsider.example"}
    slugs = [p["slug"] for p in outsider_api.get("/api/v1/projects").json()["results"]]
    assert slugs == ["default"]
    actions = {e["target"] for e in outsider_api.get("/api/v1/audit/events").json()["results"]}
    assert not any(str(alice.pk) in target for target in actions)


@pytest.mark.django_db(transaction=True)
def test_sequential_requests_on_one_pooled_connection_never_leak(acme_api, outsider_api, acme, outsider):
    seen = []
    for client in (acme_api, outsider_api, acme_api, outsider_api):
        seen.append({p["id"] for p in client.get("/api/v1/projects").json()["results"]})
        # Between requests the connection carries no tenant setting at all.
        with connection.cursor() as cur:
            cur.execute("SELECT current_setting('dos.org_id', true), current_setting('dos.platform', true)")
            org_setting, platform_setting = cur.fetchone()
            assert not org_setting and platform_setting != "on"
    assert seen[0] == seen[2] and seen[1] == seen[3] and not (seen[0] & seen[1])


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_two_orgs_stay_apart(acme_api, outsider_api, acme, outsider):
    results: dict[str, list[set]] = {"acme": [], "outsider": []}

    def hammer(name, client):
        try:
            for _ in range(10):
                results[name].append({p["slug"] + p["id"] for p in client.get("/api/v1/projects").json()["results"]})
        finally:
            connection.close()

    threads = [threading.Thread(target=hammer, args=(n, c)) for n, c in (("acme", acme_api), ("outsider", outsider_api))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({frozenset(s) for s in results["acme"]}) == 1
    assert len({frozenset(s) for s in results["outsider"]}) == 1
    assert not (results["acme"][0] & results["outsider"][0])
