"""How the API writes values: decimal strings without exponents, RFC 3339 UTC times, JSON schema."""

import json
import re
from datetime import UTC

import pytest
import yaml

from tests.conftest import api_client
from tests.factories import make_key

pytestmark = pytest.mark.django_db

DECIMAL_RE = re.compile(r"^-?\d+(\.\d+)?$")
UTC_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture
def meter_api(acme):
    return api_client(make_key(acme, scopes=["meter.write", "usage.read"], name="meter key"))


def test_it_writes_usage_as_plain_decimal_strings(meter_api):
    for corr_id, value in (("c-50", 50), ("c-1000", 950)):
        response = meter_api.post("/api/v1/meter/events", {"metric": "decision_calls", "value": value,
                                                           "corr_id": corr_id}, format="json")
        assert response.json()["accepted"] == 1
    body = meter_api.get("/api/v1/usage?metric=decision_calls&granularity=month").json()
    assert body["total"] == "1000"  # str(Decimal("1000.000000").normalize()) is "1E+3"
    assert body["series"] and all(DECIMAL_RE.match(b["value"]) for b in body["series"])


def test_it_names_the_usage_window_from_and_to_in_utc(meter_api):
    body = meter_api.get("/api/v1/usage?metric=decision_calls&from=2026-11-01T00:00:00%2B09:00").json()
    assert "from_" not in body
    assert body["from"] == "2026-10-31T15:00:00Z"
    assert UTC_RE.match(body["to"])


def test_it_writes_timestamps_in_utc_with_z(acme_api):
    [project] = acme_api.get("/api/v1/projects").json()["results"]
    assert UTC_RE.match(project["created_at"]), project["created_at"]


def test_it_keeps_seoul_time_outside_the_api(rf):
    from django.utils import timezone

    from dos.middleware import ApiLocaleMiddleware

    seen = {}

    def remember(request):
        from django.http import HttpResponse

        seen[request.path] = timezone.get_current_timezone_name()
        return HttpResponse()

    middleware = ApiLocaleMiddleware(remember)
    middleware(rf.get("/admin/"))
    middleware(rf.get("/api/v1/me"))
    assert seen == {"/admin/": "Asia/Seoul", "/api/v1/me": str(UTC)}


def test_it_serves_the_schema_as_json_on_request(client):
    by_query = client.get("/api/schema/?format=json")
    assert by_query.status_code == 200 and "json" in by_query["Content-Type"]
    assert json.loads(by_query.content)["openapi"].startswith("3.")
    by_accept = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert by_accept.status_code == 200 and "json" in by_accept["Content-Type"]
    assert json.loads(by_accept.content) == json.loads(by_query.content)
    assert yaml.safe_load(client.get("/api/schema/").content)["openapi"].startswith("3.")


def test_it_declares_quantities_as_strings_in_the_schema(client):
    document = json.loads(client.get("/api/schema/?format=json").content)
    usage = document["components"]["schemas"]["UsageOut"]
    assert usage["properties"]["total"]["type"] == "string"
    assert {"from", "to"} <= set(usage["required"]) and "from_" not in usage["properties"]


def test_it_opens_the_usage_window_in_the_month_of_to(meter_api):
    body = meter_api.get("/api/v1/usage?metric=decision_calls&to=2000-01-15T00:00:00Z")
    assert body.status_code == 200, body.content
    assert body.json()["from"] == "1999-12-31T15:00:00Z"  # 2000-01-01 00:00 in Seoul


