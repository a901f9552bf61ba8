import pytest
from django.test import override_settings

from observability import probes

pytestmark = pytest.mark.django_db


def test_healthz_says_the_process_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["process"]["status"] == "ok"
    assert body["checks"]["process"]["latency_ms"] >= 0


def test_readyz_checks_database_redis_and_migrations(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert set(checks) == {"database", "redis", "migrations"}
    assert all(check["status"] == "ok" for check in checks.values())


def test_readyz_fails_when_redis_is_unreachable(client):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["redis"]["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"


def test_readyz_fails_while_migrations_are_pending(client, monkeypatch):
    monkeypatch.setattr(probes, "_migrations_ok_until", 0.0)
    monkeypatch.setattr(probes, "pending_migrations", lambda: ["tenancy.9999_future"])
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"]["unapplied"] == ["tenancy.9999_future"]


def test_livez_reports_an_open_write_path(client):
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.json()["checks"]["write_path"]["transaction_read_only"] == "off"


def test_livez_fails_in_read_only_maintenance(client):
    with override_settings(DOS_READ_ONLY=True):
        response = client.get("/livez")
    assert response.status_code == 503
    assert response.json()["checks"]["write_path"]["reason"].startswith("DOS_READ_ONLY")


def test_probes_only_answer_get(client):
    assert client.post("/readyz").status_code == 405
