import re

import pytest
import yaml
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


def test_it_serves_a_valid_openapi_3_document(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    validate(document)


def test_it_serves_swagger_ui_from_local_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    # Every script and stylesheet comes from our own /static/ — nothing from another host. (The page
    # embeds a random CSRF token, so a plain substring check for "cdn" would be flaky.)
    assert not re.search(r'(?:src|href)\s*=\s*["\']https?://', html)
    assert "/static/drf_spectacular_sidecar/" in html


def test_every_endpoint_is_documented_without_schema_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    document = yaml.safe_load(out.read_text())
    for path in ("/api/v1/me", "/api/v1/projects", "/api/v1/projects/{project_pk}/api-keys",
                 "/api/v1/members", "/api/v1/audit/events"):
        assert path in document["paths"], path
    assert {"ApiKey", "AdminSession"} <= set(document["components"]["securitySchemes"])


def test_the_public_document_is_built_once_per_process_and_language(client, monkeypatch):
    from drf_spectacular.generators import SchemaGenerator

    from dos.urls import SchemaView

    built = []
    original = SchemaGenerator.get_schema

    def counting(self, *args, **kwargs):
        built.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)
    monkeypatch.setattr(SchemaView, "_public", {})
    first = client.get("/api/schema/?format=json")
    again = client.get("/api/schema/?format=json")
    assert first.status_code == again.status_code == 200 and first.content == again.content
    assert len(built) == 1
    client.get("/api/schema/?format=json", HTTP_ACCEPT_LANGUAGE="ko")
    assert len(built) == 2
    for _ in range(2):  # a language the product does not speak is not kept
        client.get("/api/schema/?format=json&lang=xx-unknown")
    assert len(built) == 4 and len(SchemaView._public) == 2
    client.get("/api/schema/?format=json", HTTP_AUTHORIZATION="Bearer dos_not_a_key")  # may be tailored
    assert len(built) == 5
