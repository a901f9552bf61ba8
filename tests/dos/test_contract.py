"""The published OpenAPI document is the contract (SPEC §13): schemathesis runs every check, the
stateful phase included, against the app served in-process (pytest-django's live server) and must
find nothing.

A deeper pass (more examples) is described in docs/api.md; it reads ``DOS_CONTRACT_EXAMPLES``.
"""

from __future__ import annotations

import os

import pytest

# The server runs in its own thread (its own database connection): the fixtures' rows must be
# committed for it to see them.
pytestmark = pytest.mark.django_db(transaction=True)

SEED = int(os.environ.get("DOS_CONTRACT_SEED", "20261202"))
# 20 examples per operation keeps the run near 2.5 minutes on 2 cores; docs/api.md has the deeper pass.
EXAMPLES = int(os.environ.get("DOS_CONTRACT_EXAMPLES", "20"))


def contract_run(base_url: str, *, secret: str, examples: int, seed: int):
    """Run schemathesis like the CLI does (all phases, all checks); returns its figures and failures."""
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import Status, events, from_schema

    config = SchemathesisConfig.from_dict({
        "seed": seed,
        "headers": {"Authorization": f"Bearer {secret}"},
        # Every check on. A body over the size limit is refused with 413 before it is read: that is a
        # rejection too (documented on every write), so the negative-data check counts it as one.
        "checks": {"enabled": True, "negative_data_rejection": {"expected-statuses": [
            "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]}},
        "phases": {"enabled": True, "stateful": {"enabled": True}},
        "generation": {"max-examples": examples},
        "workers": 1,
        "cache": {"enabled": False},  # every run starts from the seed alone
    })
    # The document as a tenant developer fetches it: with their key, so /decide's `input` is their
    # published contracts (decisions.schema) rather than "an object".
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json", config=config,
                                           headers={"Authorization": f"Bearer {secret}"})
    operations, answered, cases, failures, seconds = set(), {}, 0, [], 0.0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            recorder = event.recorder
            cases += len(recorder.cases)
            for case in recorder.cases.values():
                operations.add(case.value.operation.label)
            for case_id, interaction in recorder.interactions.items():
                if interaction.response is not None and case_id in recorder.cases:
                    label = recorder.cases[case_id].value.operation.label
                    answered.setdefault(label, set()).add(interaction.response.status_code)
            for case_id, checks in recorder.checks.items():
                label = recorder.cases[case_id].value.operation.label if case_id in recorder.cases else "?"
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        failures.append((f"{label} {check.name}", f"{failure.title}: {failure.message}",
                                         check.failure_info.code_sample))
        elif isinstance(event, (events.FatalError, events.NonFatalError)):
            failures.append(("error", str(getattr(event, "info", event)), ""))
        elif isinstance(event, events.EngineFinished):
            seconds = event.running_time
            failures.extend(("after_run", str(f), "") for f in event.failures)
    return {"operations": len(operations), "cases": cases, "seconds": seconds, "answered": answered}, failures


def test_it_keeps_the_published_contract_under_fuzzing(lending, acme, live_server):
    from tenancy.roles import PERMISSIONS
    from tests.factories import make_key

    key = make_key(acme, scopes=sorted(PERMISSIONS), name="contract key")
    figures, failures = contract_run(live_server.url, secret=key.secret, examples=EXAMPLES, seed=SEED)
    print(f"\ncontract: {figures['operations']} operations, {figures['cases']} cases, "
          f"{len(failures)} failures, {figures['seconds']:.1f} s (seed {SEED}, {EXAMPLES} examples)")
    for name, title, sample in failures:
        print(f"- {name}: {title}\n{sample[:600]}")
    never_succeeded = sorted(op for op in figures["answered"] if not any(200 <= c < 300 for c in figures["answered"][op]))
    print("no 2xx:", never_succeeded, {op: sorted(c) for op, c in figures["answered"].items()})
    assert figures["operations"] >= 40
    assert sorted({name for name, _title, _sample in failures}) == [], "contract findings"


# What the fuzzer found, pinned down one by one (fast, without the engine).

@pytest.mark.parametrize("query", ["page_size=null", "page_size=0", "page_size=501", "page_size=1.5"])
def test_it_refuses_a_page_size_outside_the_schema(acme_api, query):
    response = acme_api.get(f"/api/v1/projects?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["page_size"]


def test_it_still_pages_with_a_valid_page_size(acme_api):
    assert acme_api.get("/api/v1/projects?page_size=500").status_code == 200


@pytest.mark.parametrize("query", ["decided_to=", "decided_to=yesterday", "outcome="])
def test_it_refuses_typed_filters_with_bad_values(acme_api, query):
    response = acme_api.get(f"/api/v1/decisions?{query}")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [query.split("=")[0]]


def test_it_refuses_an_explain_format_outside_the_enum(lending, acme_api):
    response = acme_api.get("/api/v1/decisions/00000000-0000-4000-8000-000000000000/explain?format=xml")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["format"]


def test_it_refuses_meter_events_without_a_body(acme):
    from tests.conftest import api_client
    from tests.factories import make_key

    client = api_client(make_key(acme, scopes=["meter.write"]))
    response = client.post("/api/v1/meter/events")
    assert response.status_code == 400
    invalid_single = client.post("/api/v1/meter/events", {"metric": "decision_calls"}, format="json")
    assert invalid_single.status_code == 400
    assert {"value", "corr_id"} <= set(invalid_single.json()["errors"])


def test_it_documents_policy_versions_as_the_list_it_returns(client):
    import json

    document = json.loads(client.get("/api/schema/?format=json").content)
    ok = document["paths"]["/api/v1/policies/{id}/versions"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["type"] == "array"


def test_every_operation_declares_its_problem_responses(client):
    import json

    document = json.loads(client.get("/api/schema/?format=json").content)
    assert "Problem" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"400", "401", "403", "404", "405", "429"} <= statuses, (method, path)
            if method in {"post", "put", "patch", "delete"}:
                assert {"409", "413", "415", "422"} <= statuses, (method, path)
            problem = operation["responses"]["404"]["content"]["application/problem+json"]["schema"]
            assert problem == {"$ref": "#/components/schemas/Problem"}
