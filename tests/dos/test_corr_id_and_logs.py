import io
import json
import logging

import pytest
import structlog

from dos.logging import configure_logging

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log_lines():
    """Capture what the real stdout handler would print, through the same formatter."""
    configure_logging(level="INFO", fmt="json")
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    root.removeHandler(handler)


def test_it_generates_a_corr_id_when_none_is_sent(client):
    response = client.get("/healthz")
    assert len(response["X-Corr-ID"]) == 32


def test_it_echoes_a_valid_corr_id(client):
    response = client.get("/healthz", HTTP_X_CORR_ID="req-2026-11-21-abc123")
    assert response["X-Corr-ID"] == "req-2026-11-21-abc123"


def test_it_replaces_a_corr_id_that_could_inject_into_logs(client):
    response = client.get("/healthz", HTTP_X_CORR_ID="bad id\nwith newline")
    assert response["X-Corr-ID"] != "bad id\nwith newline"
    assert len(response["X-Corr-ID"]) == 32


def test_it_binds_the_corr_id_into_log_lines_of_the_request(client, json_log_lines):
    client.raise_request_exception = False
    client.get("/api/v1/anything-unknown", HTTP_X_CORR_ID="corr-for-log-test-1")

    # A log line emitted inside a request carries the corr_id of that request.
    from django.test import RequestFactory

    from dos.middleware import CorrelationIdMiddleware

    def view(request):
        structlog.get_logger("test").info("inside.view", subject="citizen")
        from django.http import HttpResponse

        return HttpResponse("ok")

    CorrelationIdMiddleware(view)(RequestFactory().get("/x", HTTP_X_CORR_ID="corr-for-log-test-2"))
    lines = [line for line in json_log_lines() if line.get("event") == "inside.view"]
    assert lines and lines[0]["corr_id"] == "corr-for-log-test-2"


def test_it_masks_personal_data_in_log_lines(json_log_lines):
    log = structlog.get_logger("test")
    log.info("applicant 900101-1234568 called 010-1234-5678", email="kim@example.co.kr",
             card="4111 1111 1111 1111", nested={"rrn": "8501012345678"})
    logging.getLogger("django.request").warning("stdlib line with hong@example.com")
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in json_log_lines())
    for secret in ("900101-1234568", "010-1234-5678", "kim@example.co.kr", "4111 1111 1111 1111",
                   "8501012345678", "hong@example.com"):
        assert secret not in text
    assert "[RRN]" in text and "[PHONE]" in text and "[EMAIL]" in text and "[CARD:****1111]" in text
