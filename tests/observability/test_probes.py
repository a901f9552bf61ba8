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


def test_readyz_stays_ready_but_degraded_with_the_reason_when_redis_is_unreachable(client):
    # Redis is a helper (docs/runbooks/degradation.md): requests are still served, so the instance
    # stays in rotation and the probe says what is degraded and why.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["status"] == "degraded"
    assert "Redis does not answer" in body["checks"]["redis"]["reason"]
    assert body["checks"]["redis"]["error"].startswith("ConnectionError")
    assert body["reasons"] == [f"redis: {body['checks']['redis']['reason']}"]
    assert body["checks"]["database"]["status"] == "ok"


def test_readyz_fails_when_the_database_fails_even_if_redis_is_down(client, monkeypatch):
    monkeypatch.setattr(probes, "PROBES", {**probes.PROBES, "readyz": {
        **probes.PROBES["readyz"], "database": lambda: (False, {"error": "OperationalError: gone"})}})
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "fail"


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


@pytest.mark.django_db(transaction=True)
def test_livez_says_why_when_the_database_is_read_only(client):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SET default_transaction_read_only = on")  # this session only
    try:
        response = client.get("/livez")
    finally:
        with connection.cursor() as cur:
            cur.execute("SET default_transaction_read_only = off")
    assert response.status_code == 503
    write_path = response.json()["checks"]["write_path"]
    assert write_path["transaction_read_only"] == "on"
    assert "read-only" in write_path["reason"]


def test_livez_fails_in_read_only_maintenance(client):
    with override_settings(DOS_READ_ONLY=True):
        response = client.get("/livez")
    assert response.status_code == 503
    assert response.json()["checks"]["write_path"]["reason"].startswith("DOS_READ_ONLY")


def test_probes_only_answer_get(client):
    assert client.post("/readyz").status_code == 405
