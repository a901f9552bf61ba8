"""Every error under /api/ is RFC 9457 problem+json; no input produces a 500 or a half write."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response

from dos.api.permissions import PUBLIC
from dos.api.views import DosApiView, DosViewSet
from dos.urls import urlpatterns as real_urlpatterns

PROBLEM = "application/problem+json"


class ProbeInput(serializers.Serializer):
    email = serializers.EmailField()
    note = serializers.CharField(max_length=20)


class ProbeView(DosApiView):
    """Creates a user, then validates: a validation failure must roll the user back."""

    permission_map = {"post": PUBLIC, "get": "audit.read"}

    def post(self, request):
        get_user_model().objects.create_user(email="written-before-validation@example.com")
        data = ProbeInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"ok": True}, status=201)

    def get(self, request):
        return Response({"ok": True})


class UnmappedViewSet(DosViewSet):
    permission_map = {}

    def list(self, request):
        return Response([])


class BrokenView(DosApiView):
    permission_map = {"get": PUBLIC}

    def get(self, request):
        raise RuntimeError("secret internal detail 900101-1234567")


urlpatterns = [
    path("api/v1/probe", ProbeView.as_view()),
    path("api/v1/unmapped", UnmappedViewSet.as_view({"get": "list"})),
    path("api/v1/broken", BrokenView.as_view()),
    *real_urlpatterns,
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail", "code", "corr_id"} <= body.keys()
    assert body["status"] == status
    assert body["corr_id"] == response["X-Corr-ID"]
    return body


def test_it_answers_malformed_json_with_400(client):
    body = problem(client.post("/api/v1/probe", data="{not json", content_type="application/json"), 400)
    assert body["code"] == "malformed_request"


def test_it_answers_wrong_content_type_with_415(client):
    body = problem(client.post("/api/v1/probe", data="email=a@b.c", content_type="text/plain"), 415)
    assert body["code"] == "unsupported_media_type"


def test_it_answers_a_2_mib_body_with_413(client):
    payload = json.dumps({"email": "a@example.com", "note": "x" * (2 * 1024 * 1024)})
    body = problem(client.post("/api/v1/probe", data=payload, content_type="application/json"), 413)
    assert body["code"] == "payload_too_large"
    assert not get_user_model().objects.exists()


@override_settings(API_MAX_BODY_BYTES=64)
def test_it_honours_a_configured_body_limit(client):
    payload = json.dumps({"email": "a@example.com", "note": "x" * 100})
    problem(client.post("/api/v1/probe", data=payload, content_type="application/json"), 413)


def test_it_refuses_chunked_bodies_with_411(client):
    response = client.post("/api/v1/probe", data="{}", content_type="application/json",
                           HTTP_TRANSFER_ENCODING="chunked")
    assert problem(response, 411)["code"] == "length_required"


def test_it_answers_unknown_api_paths_with_problem_404(client):
    body = problem(client.get("/api/v1/does-not-exist"), 404)
    assert body["code"] == "not_found"
    problem(client.get("/api/nothing-here"), 404)


def test_it_reports_field_errors_and_writes_nothing(client):
    response = client.post("/api/v1/probe", data={"email": "nope", "note": "y" * 30}, content_type="application/json")
    body = problem(response, 400)
    assert body["code"] == "validation_error"
    assert set(body["errors"]) == {"email", "note"}
    assert all(isinstance(msgs, list) and msgs for msgs in body["errors"].values())
    # The view wrote a row before validating; the transaction rolled it back.
    assert not get_user_model().objects.exists()


def test_it_commits_a_successful_write(client):
    response = client.post("/api/v1/probe", data={"email": "ok@example.com", "note": "hi"},
                           content_type="application/json")
    assert response.status_code == 201
    assert get_user_model().objects.filter(email="written-before-validation@example.com").exists()


def test_it_answers_unmapped_methods_with_405(client):
    body = problem(client.delete("/api/v1/probe"), 405)
    assert body["code"] == "method_not_allowed"
    assert "POST" in response_allow(client.delete("/api/v1/probe"))


def response_allow(response):
    return response["Allow"]


def test_it_refuses_actions_without_a_declared_permission(client):
    body = problem(client.get("/api/v1/unmapped"), 403)
    assert body["code"] == "permission_unmapped"


def test_it_asks_for_credentials_on_protected_actions(client):
    body = problem(client.get("/api/v1/probe"), 401)
    assert body["code"] == "not_authenticated"


def test_it_hides_internal_errors_behind_a_problem_500(client):
    client.raise_request_exception = False
    response = client.get("/api/v1/broken")
    body = problem(response, 500)
    assert body["code"] == "server_error"
    assert "secret internal detail" not in response.content.decode()


@pytest.mark.parametrize("text, what", [("\\u0000", "NUL"), ("\\ud800", "surrogate")])
def test_it_refuses_text_that_cannot_be_stored(client, text, what):
    body = '{"email": "a@example.com", "note": "x' + text + '"}'
    response = client.post("/api/v1/probe", data=body, content_type="application/json")
    problem_body = problem(response, 400)
    assert problem_body["code"] == "malformed_request"
    assert what in problem_body["detail"] and "'note'" in problem_body["detail"]
    assert not get_user_model().objects.exists()
