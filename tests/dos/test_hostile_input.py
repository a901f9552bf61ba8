"""Hostile input never produces a 500: malformed credentials, a public contract that ignores bad
credentials, YAML alias bombs in policy sources, and /metrics outside dev."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from django.test import Client
from rest_framework.test import APIClient

from decisions.policy.language import parse_policy
from tests.factories import verified_client

pytestmark = pytest.mark.django_db

MALFORMED_HEADERS = {
    "a lone no-break space": "\xa0",
    "Bearer with nothing": "Bearer",
    "Bearer and spaces": "Bearer    ",
    "Bearer and a no-break space": "Bearer\xa0",
    "Bearer, no-break space, key": "Bearer\xa0dos_0123456789ab_" + "a" * 40,
    "non-latin-1 characters": "Bearer dos_키_비밀",
    "an emoji": "Bearer \U0001f600",
    "three parts": "Bearer dos_0123456789ab_" + "a" * 40 + " extra",
    "a key with a trailing newline": "Bearer dos_0123456789ab_" + "a" * 40 + "\n",
    "a control character": "Bearer \x00",
    "another scheme": "Basic YWxpY2U6cGFzcw==",
    "only tabs": "\t\t",
}


@pytest.mark.parametrize("header", MALFORMED_HEADERS.values(), ids=MALFORMED_HEADERS.keys())
def test_it_answers_a_malformed_authorization_header_with_a_problem_401(acme, header):
    response = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


def test_it_accepts_the_bearer_scheme_in_any_case(acme_key):
    response = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"bearer {acme_key.secret}")
    assert response.status_code == 200


def test_it_refuses_a_non_latin_1_header_with_its_own_message(acme):
    response = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer 비밀")
    assert response.status_code == 401
    assert "ISO-8859-1" in response.json()["detail"]


CONTRACT_PAGES = ["/api/schema/", "/api/docs/", "/api/redoc/"]


def _credentials(kind: str, request, acme_key, mallory) -> Client:
    if kind == "none":
        return Client()
    if kind == "valid key":
        return Client(HTTP_AUTHORIZATION=f"Bearer {acme_key.secret}")
    if kind == "invalid key":
        return Client(HTTP_AUTHORIZATION="Bearer dos_0123456789ab_" + "x" * 40)
    if kind == "malformed header":
        return Client(HTTP_AUTHORIZATION="\xa0")
    if kind == "session without TOTP":
        client = Client()
        client.force_login(mallory)
        return client
    if kind == "verified session":
        return verified_client(Client(), mallory)
    raise AssertionError(kind)


@pytest.mark.parametrize("path", CONTRACT_PAGES)
@pytest.mark.parametrize("kind", ["none", "valid key", "invalid key", "malformed header", "session without TOTP",
                                  "verified session"])
def test_it_serves_the_contract_whatever_credentials_come_with_the_request(request, path, kind, acme_key, mallory):
    response = _credentials(kind, request, acme_key, mallory).get(path)
    assert response.status_code == 200, response.content[:300]


def test_it_serves_the_contract_to_a_platform_session_that_the_tenant_api_refuses(admin_user):
    client = verified_client(Client(), admin_user)
    assert client.get("/api/v1/me").status_code == 403
    assert client.get("/api/schema/").status_code == 200


# -- YAML --------------------------------------------------------------------------------------------

POLICY = """\
kind: decision
name: tiny
inputs:
  schema: {type: object, properties: {score: {type: integer}}}
rules:
  - id: low
    when: score < 10
    then: [{action: deny}]
    audit: {reason_code: LOW_SCORE}
"""


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs" document: width**levels strings from a few hundred bytes."""
    lines = ['l0: &l0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_it_refuses_an_alias_bomb_in_bounded_time_and_memory():
    source = alias_bomb()
    assert len(source) < 1000
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = parse_policy(source)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.policy is None
    assert "anchors and aliases" in result.issues[0].message
    assert peak < 2 * 1024 * 1024
    assert elapsed < 1.0


def test_it_refuses_an_alias_inside_an_otherwise_valid_policy_and_points_at_it():
    source = POLICY.replace("inputs:\n  schema: {", "inputs:\n  schema: &s {") + "defaults: *s\n"
    result = parse_policy(source)
    assert result.policy is None
    assert [i.line for i in result.issues] == [4]


def test_it_still_parses_a_policy_without_aliases():
    result = parse_policy(POLICY)
    assert result.ok, result.issues


def test_it_lints_an_alias_bomb_posted_to_the_api_as_a_policy_with_issues(acme_api):
    response = acme_api.post("/api/v1/policies/lint", {"source": alias_bomb()}, format="json")
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert "anchors and aliases" in response.json()["issues"][0]["message"]


# -- /metrics ------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["test", "prod"])
def test_it_closes_metrics_outside_dev_when_no_token_is_configured(settings, env):
    settings.DJANGO_ENV, settings.METRICS_BEARER_TOKEN = env, ""
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_it_leaves_metrics_open_in_dev_without_a_token(settings):
    settings.DJANGO_ENV, settings.METRICS_BEARER_TOKEN = "dev", ""
    assert Client().get("/metrics").status_code == 200


@pytest.mark.parametrize("header", ["Bearer wrong", "wrong", "Basic metrics-token", "Bearer metrics-token-and-more",
                                    "Bearer 메트릭", "\xa0", "Bearer"])
def test_it_refuses_metrics_without_the_exact_token(settings, header):
    settings.DJANGO_ENV, settings.METRICS_BEARER_TOKEN = "prod", "metrics-token"
    assert Client().get("/metrics", HTTP_AUTHORIZATION=header).status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token").status_code == 200
