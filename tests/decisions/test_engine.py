"""Evaluation order, combining, rule paths and fail-safe errors (SPEC §9)."""

import textwrap

import pytest

from decisions.packs import load_pack
from decisions.policy.engine import RULE_ERROR, InputInvalid, compile_policy

POLICY = textwrap.dedent("""\
    kind: decision
    version: v1
    name: t
    labels: [lending]
    inputs:
      schema:
        type: object
        required: [score]
        properties: {score: {type: number}, tags: {type: array}, note: {type: string}}
    rules:
      - id: R_allow
        when: "score > 90.0"
        then: [{action: allow}]
        audit: {reason_code: GOOD}
      - id: S_first
        layer: system
        when: "score < 0.0"
        then: [{action: deny}]
        audit: {reason_code: NEGATIVE}
      - id: R_review
        when: "score > 50.0"
        then: [{action: require_hitl}]
        audit: {reason_code: CHECK}
      - id: R_other_route
        match: {route: simulate}
        when: "true"
        then: [{action: deny}]
        audit: {reason_code: NEVER_ON_DECIDE}
      - id: R_needs_label
        match: {labels: [mortgage]}
        when: "true"
        then: [{action: deny}]
        audit: {reason_code: NEEDS_MORTGAGE}
      - id: R_fragile
        when: "size(tags) > 2"
        then: [{action: deny}]
        audit: {reason_code: TOO_MANY_TAGS}
    defaults: {outcome: approve}
    """)


@pytest.fixture
def policy():
    return compile_policy(POLICY)


def run(policy, data, **kwargs):
    return policy.evaluate(policy.validate(data), **kwargs)


def test_layers_run_system_first_and_the_path_lists_every_rule(policy):
    evaluation = run(policy, {"score": 10, "tags": []})
    assert [s.rule_id for s in evaluation.rule_path] == [
        "S_first", "R_allow", "R_review", "R_other_route", "R_needs_label", "R_fragile"]
    assert [(s.rule_id, s.matched) for s in evaluation.rule_path if not s.matched] == [
        ("R_other_route", False), ("R_needs_label", False)]
    assert evaluation.outcome == "approve" and evaluation.reason_codes == []


def test_review_beats_allow_and_all_fired_reasons_are_returned(policy):
    evaluation = run(policy, {"score": 95, "tags": []})
    assert evaluation.outcome == "review"
    assert [r["code"] for r in evaluation.reason_codes] == ["GOOD", "CHECK"]


def test_deny_beats_everything(policy):
    evaluation = run(policy, {"score": 95, "tags": [1, 2, 3]})
    assert evaluation.outcome == "deny"
    assert [r["code"] for r in evaluation.reason_codes] == ["GOOD", "CHECK", "TOO_MANY_TAGS"]


def test_labels_and_routes_select_rules(policy):
    assert run(policy, {"score": 1, "tags": []}, labels=["mortgage"]).outcome == "deny"
    assert run(policy, {"score": 1, "tags": []}, route="simulate").outcome == "deny"


def test_a_rule_that_errors_at_run_time_sends_the_case_to_review(policy):
    evaluation = run(policy, {"score": 10})  # `tags` is absent: R_fragile cannot be evaluated
    assert evaluation.outcome == "review"
    assert evaluation.reason_codes[-1]["code"] == RULE_ERROR
    assert evaluation.reason_codes[-1]["rule_id"] == "R_fragile"
    assert next(s for s in evaluation.rule_path if s.rule_id == "R_fragile").error


def test_integers_are_accepted_where_the_contract_says_number(policy):
    assert run(policy, {"score": 95, "tags": []}).outcome == "review"  # 95 → 95.0 for CEL


def test_inputs_that_break_the_contract_are_refused_with_field_paths(policy):
    with pytest.raises(InputInvalid) as info:
        policy.validate({"score": "high", "tags": "x"})
    assert set(info.value.errors) == {"input.score", "input.tags"}
    with pytest.raises(InputInvalid):
        policy.validate([1, 2])


def test_compiled_policies_are_cached_by_source_hash():
    assert compile_policy(POLICY) is compile_policy(POLICY)


def test_every_lending_pack_fixture_gives_its_expected_decision():
    pack = load_pack("lending_brokerage")
    policy = compile_policy(pack.rules["lending_triage"])
    for case in pack.fixtures:
        evaluation = run(policy, case["input"])
        assert (evaluation.outcome, [r["code"] for r in evaluation.reason_codes]) == (
            case["outcome"], case["reasons"]), case["name"]


def test_the_pack_dataset_is_deterministic_valid_and_mixed():
    pack = load_pack("lending_brokerage")
    generator = pack.dataset_module()
    rows = generator.generate(1000)
    assert rows == generator.generate(1000) and len(rows) == 1000
    policy = compile_policy(pack.rules["lending_triage"])
    outcomes = {run(policy, generator.as_input(r)).outcome for r in rows}
    assert outcomes == {"approve", "deny", "review"}


def test_every_reason_code_of_the_pack_has_korean_and_english_text():
    pack = load_pack("lending_brokerage")
    used = {rule.reason_code for rule in compile_policy(pack.rules["lending_triage"]).policy.rules}
    for code in used | {RULE_ERROR}:
        entry = pack.reason_codes[code]
        assert entry["ko"] and entry["en"] and entry["category"]
