"""/api/schema/ fetched with an API key describes /decide's `input` as the key's published contracts."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from decisions import services
from decisions.policy.language import parse_policy
from decisions.schema import embedded
from dos import scope
from tests.conftest import api_client
from tests.factories import UserFactory, add_member, as_member, default_project, make_key

pytestmark = pytest.mark.django_db

SECOND = """
kind: decision
version: v1
name: lead_quality
inputs: {schema: {type: object, required: [channel], properties: {channel: {type: string, enum: [web, phone]}}}}
rules:
  - id: R1
    when: "channel == 'phone'"
    then: [{action: deny}]
    audit: {reason_code: PHONE_LEAD}
defaults: {outcome: approve}
"""


def document(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def decide_request(doc: dict) -> dict:
    return doc["components"]["schemas"]["DecideInRequest"]


def publish(org, author, approver, source):
    with scope.org_scope(org.id):
        version = services.version_create(project=default_project(org), source=source, semver="1.0.0",
                                          actor=as_member(org, author))
        services.version_submit(version=version, actor=as_member(org, author))
        services.version_approve(version=version, actor=as_member(org, approver))
        services.version_publish(version=version, actor=as_member(org, approver))
    return version


def test_a_key_sees_its_published_contract_as_the_decide_input(lending, acme):
    doc = document(api_client(make_key(acme, scopes=["decisions.run"])))
    request = decide_request(doc)
    name = lending.policy_set.name
    assert request["properties"]["policy"]["const"] == name
    assert "policy" not in request.get("required", [])  # one published policy: naming it is optional
    assert request["properties"]["input"] == {"$ref": f"#/components/schemas/DecideInput_{name}"}
    contract = parse_policy(lending.source).policy.input_schema
    published = doc["components"]["schemas"][f"DecideInput_{name}"]
    assert published == {k: v for k, v in contract.items() if k not in ("$schema", "$id")}
    assert published.get("required"), "the lending contract names required fields"


def test_the_public_document_is_unchanged_without_a_key_or_with_a_bad_one(lending, client):
    public = decide_request(document(client))
    assert public["properties"]["input"]["type"] == "object"
    assert "const" not in public["properties"]["policy"]
    bad = client.get("/api/schema/?format=json", HTTP_AUTHORIZATION="Bearer dos_nope_nope")
    assert bad.status_code == 200
    assert decide_request(json.loads(bad.content)) == public


def test_several_published_policies_are_variants_that_must_name_the_policy(lending, acme, olivia, bob):
    publish(acme, olivia, bob, SECOND)
    request = decide_request(document(api_client(make_key(acme, scopes=["decisions.run"]))))
    variants = {v["properties"]["policy"]["const"]: v for v in request["oneOf"]}
    assert set(variants) == {lending.policy_set.name, "lead_quality"}
    assert all("policy" in v["required"] for v in variants.values())


def test_a_key_never_sees_another_orgs_contracts(lending, outsider, mallory):
    approver = UserFactory(email="ann@outsider.example")
    add_member(outsider, approver, "owner")
    publish(outsider, mallory, approver, SECOND.replace("lead_quality", "outsider_policy"))
    doc = document(api_client(make_key(outsider, scopes=["decisions.run"])))
    request = decide_request(doc)
    assert request["properties"]["policy"]["const"] == "outsider_policy"
    assert not any(name.startswith(f"DecideInput_{lending.policy_set.name}") for name in doc["components"]["schemas"])


def test_a_schema_valid_body_from_the_tailored_document_is_decided(lending, acme):
    client = api_client(make_key(acme, scopes=["decisions.run"]))
    doc = document(client)
    contract = doc["components"]["schemas"][f"DecideInput_{lending.policy_set.name}"]
    from tests.decisions.test_decide_api import BASE

    assert not list(Draft202012Validator(contract).iter_errors(BASE))
    response = client.post("/api/v1/decide", {"subject_id": "s-1", "purpose": "loan_screening", "input": BASE},
                           format="json")
    assert response.status_code == 200, response.content


def test_embedding_re_roots_the_contracts_own_references():
    contract = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"won": {"type": "integer"}},
                "type": "object", "properties": {"amount": {"$ref": "#/$defs/won"},
                                                 "items": {"type": "array", "items": {"$ref": "#/$defs/won"}}}}
    placed = embedded(contract, "#/components/schemas/DecideInput_x")
    assert "$schema" not in placed
    assert placed["properties"]["amount"] == {"$ref": "#/components/schemas/DecideInput_x/$defs/won"}
    assert placed["properties"]["items"]["items"]["$ref"] == "#/components/schemas/DecideInput_x/$defs/won"
    assert contract["properties"]["amount"] == {"$ref": "#/$defs/won"}  # the policy's own copy is untouched


@pytest.mark.django_db(transaction=True)
def test_the_tailored_document_is_served_outside_a_test_transaction(lending, acme):
    """Autocommit, as in production: the key lookup and the contract read open their own transactions."""
    doc = document(api_client(make_key(acme, scopes=["decisions.run"])))
    assert decide_request(doc)["properties"]["policy"]["const"] == lending.policy_set.name


def test_a_key_that_may_not_read_policies_gets_the_public_document(lending, acme):
    doc = document(api_client(make_key(acme, scopes=["meter.write"])))
    assert "const" not in decide_request(doc)["properties"]["policy"]


def test_a_suspended_orgs_key_gets_the_public_document(lending, acme):
    from tenancy.choices import OrgStatus
    from tests.tenancy.test_org_status import set_status

    client = api_client(make_key(acme, scopes=["decisions.run"]))
    set_status(acme, OrgStatus.SUSPENDED)
    assert "const" not in decide_request(document(client))["properties"]["policy"]


def test_a_key_of_an_archived_project_gets_the_public_document(lending, acme):
    from django.utils import timezone

    from tenancy.models import Project

    with scope.org_scope(acme.id):
        project = Project.objects.create(org=acme, name="Old", slug="old")
    client = api_client(make_key(acme, scopes=["decisions.run"], project=project))
    with scope.org_scope(acme.id):
        Project.objects.filter(pk=project.pk).update(archived_at=timezone.now())
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "const" not in decide_request(json.loads(response.content))["properties"]["policy"]


def test_a_tailored_document_is_private_to_its_caller(lending, acme, client):
    tailored = api_client(make_key(acme, scopes=["decisions.run"])).get("/api/schema/?format=json")
    assert "Authorization" in tailored["Vary"]
    assert tailored["Cache-Control"] == "private, no-store"
    assert "Authorization" in client.get("/api/schema/?format=json")["Vary"]
