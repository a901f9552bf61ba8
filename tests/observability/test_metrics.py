import re

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token"


@pytest.fixture
def client(client, settings):
    """/metrics needs its bearer token outside dev; the scraper's client sends it."""
    settings.METRICS_BEARER_TOKEN = TOKEN
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return client


def test_it_exposes_a_latency_histogram_labelled_by_route_after_an_api_request(client):
    client.get("/api/v1/not-a-route")
    text = client.get("/metrics").content.decode()
    assert "# TYPE dos_http_request_duration_seconds histogram" in text
    buckets = re.findall(r'^dos_http_request_duration_seconds_bucket\{([^}]*)\}', text, re.M)
    api = [labels for labels in buckets if 'route="dos.views.api_not_found"' in labels and 'status="404"' in labels]
    assert api, "no histogram series for the API request"
    # Route names, never raw paths: an id in a URL must not create a new series.
    assert not any("not-a-route" in labels for labels in buckets)


def test_it_counts_database_queries_per_request(client):
    client.get("/readyz")
    text = client.get("/metrics").content.decode()
    assert re.search(r'^dos_http_db_queries_per_request_count\{route="readyz"\} [1-9]', text, re.M)


@override_settings(METRICS_BEARER_TOKEN="s3cret-token")
def test_it_can_require_a_bearer_token():
    anonymous = Client()
    assert anonymous.get("/metrics").status_code == 401
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
