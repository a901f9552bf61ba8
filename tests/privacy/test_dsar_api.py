"""POST /api/v1/dsar and GET /api/v1/dsar/{id}: intake with its deadline, the request as it moves,
problem+json for bad input, the exact OpenAPI declarations."""

from __future__ import annotations

import pytest

from dos import scope
from privacy.models import DsarRequest
from tests.conftest import api_client
from tests.factories import make_key
from tests.privacy.dsar_world import applicant, approve_handover, officer, run, verified

pytestmark = pytest.mark.django_db
SCOPES = ["dsar.fulfil", "privacy.read"]


@pytest.fixture
def desk_api(acme):
    return api_client(make_key(acme, scopes=SCOPES, name="privacy desk"))


def test_it_records_a_request_and_shows_it_moving(acme, lending, desk_api):
    applicant(acme)
    intake = {"kind": "access", "subject_id": "lead-4242",
              "details": {"message": "Send me my data, my phone is 010-2345-6789"}}
    created = desk_api.post("/api/v1/dsar", intake, format="json", HTTP_IDEMPOTENCY_KEY="dsar-1")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "intake" and body["reference"].startswith("DSAR-") and body["export"] is None
    assert body["subject_token"].startswith("vt_") and "2345-6789" not in str(body)
    assert [e["kind"] for e in body["timeline"]] == ["received"]
    again = desk_api.post("/api/v1/dsar", intake, format="json", HTTP_IDEMPOTENCY_KEY="dsar-1")
    assert again.json()["id"] == body["id"]  # the same Idempotency-Key answers the first response
    with scope.org_scope(acme.id):
        request = DsarRequest.objects.get(id=body["id"])
        assert DsarRequest.objects.count() == 1
    verified(acme, request, officer(acme, "priya@acme.example"))
    approve_handover(acme, request, officer(acme, "pedro@acme.example"))  # four eyes on the hand-over
    run(acme, request)
    shown = desk_api.get(f"/api/v1/dsar/{body['id']}").json()
    assert shown["state"] == "done" and [s["step"] for s in shown["steps"]] == [
        "intake", "verify", "scope", "collect", "redact", "export", "fulfil"]
    assert shown["export"]["size"] > 0 and len(shown["export"]["sha256"]) == 64


def test_bad_input_is_a_problem_with_field_errors_and_writes_nothing(acme, desk_api):
    for body, field in (({"kind": "forget", "subject_id": "x"}, "kind"),
                        ({"kind": "access"}, "subject_id"),
                        ({"kind": "access", "subject_id": "x", "subject_token": "vt_x"}, "subject_id"),
                        ({"kind": "access", "subject_token": "nope"}, "subject_token"),
                        ({"kind": "rectification", "subject_id": "x"}, "details.corrections")):
        answer = desk_api.post("/api/v1/dsar", body, format="json")
        assert answer.status_code == 400, (body, answer.content)
        assert answer["Content-Type"].startswith("application/problem+json")
        assert field in answer.json()["errors"], (field, answer.json())
    with scope.org_scope(acme.id):
        assert DsarRequest.objects.count() == 0


def test_a_key_without_the_permission_is_refused(acme):
    reader = api_client(make_key(acme, scopes=["privacy.read"], name="reader"))
    assert reader.post("/api/v1/dsar", {"kind": "access", "subject_id": "x"}, format="json").status_code == 403
    assert reader.get("/api/v1/dsar/00000000-0000-0000-0000-000000000000").status_code == 404


def test_the_openapi_document_declares_both_operations_exactly(acme_api):
    schema = acme_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    create = schema["paths"]["/api/v1/dsar"]["post"]
    detail = schema["paths"]["/api/v1/dsar/{id}"]["get"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/DsarCreateInRequest")
    assert create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/DsarOut")
    assert {"400", "403"} <= set(create["responses"])
    assert detail["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/DsarOut")
    assert "404" in detail["responses"]
    out = schema["components"]["schemas"]["DsarOut"]
    assert {"state", "due_at", "steps", "timeline", "export"} <= set(out["properties"])
    kind = schema["components"]["schemas"]["DsarCreateInRequest"]["properties"]["kind"]
    enum = kind.get("enum") or schema["components"]["schemas"][kind["$ref"].rsplit("/", 1)[1]]["enum"]
    assert set(enum) == {"access", "rectification", "erasure", "restriction"}
