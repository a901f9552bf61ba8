"""API keys: shown once, stored hashed; revoked, expired, wrong scope and off-allowlist calls get
problem+json that says which."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dos import scope
from tenancy import services
from tenancy.authentication import hash_secret
from tenancy.models import ApiKey
from tests.conftest import api_client
from tests.factories import default_project, make_key

pytestmark = pytest.mark.django_db


def problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code, body
    return body


def test_it_stores_only_a_hash_of_the_secret(acme):
    created = make_key(acme)
    secret_part = created.secret.split("_", 2)[2]
    with scope.org_scope(acme.id):
        stored = ApiKey.objects.get(id=created.key.id)
    assert stored.secret_hash == hash_secret(secret_part)
    assert secret_part not in str(stored.__dict__)


def test_it_shows_the_secret_once(acme_api, acme):
    project = default_project(acme)
    created = acme_api.post(f"/api/v1/projects/{project.id}/api-keys", {"name": "ci"}, format="json")
    assert created.status_code == 201
    assert created.json()["secret"].startswith("dos_")
    listed = acme_api.get(f"/api/v1/projects/{project.id}/api-keys").json()["results"]
    assert all("secret" not in k for k in listed)
    assert "ci" in {k["name"] for k in listed}
    assert api_client(type("K", (), {"secret": created.json()["secret"]})).get("/api/v1/me").status_code == 200


def test_no_credentials_is_401_with_a_bearer_challenge(client):
    response = client.get("/api/v1/me")
    problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_malformed_or_unknown_key_is_401(client, acme):
    problem(client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer nonsense"), 401, "invalid_api_key")
    problem(client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer dos_0123456789ab_" + "x" * 43), 401, "invalid_api_key")


def test_a_revoked_key_is_401_saying_revoked(acme, acme_key):
    with scope.org_scope(acme.id):
        services.apikey_revoke(key=ApiKey.objects.get(id=acme_key.key.id), actor="system:test")
    body = problem(api_client(acme_key).get("/api/v1/me"), 401, "api_key_revoked")
    assert acme_key.key.prefix in body["detail"]


def test_an_expired_key_is_401_saying_expired(acme):
    created = make_key(acme, expires_at=timezone.now() + timedelta(seconds=1))
    with scope.org_scope(acme.id):
        ApiKey.objects.filter(id=created.key.id).update(expires_at=timezone.now() - timedelta(minutes=1))
    problem(api_client(created).get("/api/v1/me"), 401, "api_key_expired")


def test_a_key_without_the_scope_is_403_naming_the_permission(acme):
    created = make_key(acme, scopes=["decisions.run"])
    body = problem(api_client(created).get("/api/v1/members"), 403, "permission_denied")
    assert body["permission"] == "members.manage"


def test_a_call_from_outside_the_ip_allowlist_is_403(acme, acme_key):
    with scope.org_scope(acme.id):
        acme.ip_allowlist = ["203.0.113.0/24"]
        acme.save(update_fields=["ip_allowlist"])
    client = api_client(acme_key)
    problem(client.get("/api/v1/me", REMOTE_ADDR="198.51.100.7"), 403, "ip_not_allowed")
    assert client.get("/api/v1/me", REMOTE_ADDR="203.0.113.9").status_code == 200


def test_it_records_last_use(acme, acme_key):
    api_client(acme_key).get("/api/v1/me")
    with scope.org_scope(acme.id):
        assert ApiKey.objects.get(id=acme_key.key.id).last_used_at is not None


def test_a_key_cannot_mint_a_key_with_more_power_than_itself(acme, acme_api):
    project = default_project(acme)
    response = acme_api.post(f"/api/v1/projects/{project.id}/api-keys",
                             {"name": "escalate", "scopes": ["billing.manage"]}, format="json")
    body = problem(response, 403, "escalation_refused")
    assert body["permission"] == "billing.manage" and "billing.manage" in body["detail"]


def test_revoking_through_the_api_is_audited(acme, acme_api):
    project = default_project(acme)
    key = make_key(acme, name="to revoke")
    response = acme_api.post(f"/api/v1/projects/{project.id}/api-keys/{key.key.id}/revoke", {"reason": "leaked"},
                             format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "revoked"
    events = acme_api.get("/api/v1/audit/events", {"action": "apikey.revoked"}).json()["results"]
    assert events[0]["target"] == f"apikey:{key.key.prefix}"
    assert events[0]["data"] == {"reason": "leaked"}


def test_authentication_returns_a_principal_and_leaves_the_scope_to_the_entry_point(acme):
    """The API base view is the one place that scopes an API request; authenticating reads the key's
    org and project under that org and closes the scope again."""
    from django.db import connection, transaction
    from rest_framework.test import APIRequestFactory

    from tenancy.authentication import ApiKeyAuthentication

    created = make_key(acme, scopes=["decisions.run"])
    request = APIRequestFactory().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {created.secret}")
    with transaction.atomic():
        principal, _ = ApiKeyAuthentication().authenticate(request)
        assert principal.org_id == acme.id and principal.project is not None
        assert scope.current_org_id() is None
        with connection.cursor() as cur:
            cur.execute("SELECT current_setting('dos.org_id', true)")
            assert cur.fetchone()[0] in ("", None)
