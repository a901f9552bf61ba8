"""Lint: every problem in a draft names the rule, line and column."""

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decisions.policy.language import parse_policy

HEAD = textwrap.dedent("""\
    kind: decision
    version: v1
    name: t
    inputs:
      schema:
        type: object
        properties: {dsr: {type: number}, income: {type: integer}, docs: {type: array}}
    """)


def issues_of(rules_yaml: str):
    return parse_policy(HEAD + "rules:\n" + textwrap.indent(textwrap.dedent(rules_yaml), "  ")).issues


def test_a_valid_policy_has_no_issues():
    result = parse_policy(HEAD + 'rules:\n  - id: R1\n    when: "dsr > 40.0"\n    then: [{action: deny}]\n'
                                 '    audit: {reason_code: DSR_HIGH}\n')
    assert result.ok and result.issues == []
    assert result.policy.rules[0].reason_code == "DSR_HIGH"


def test_malformed_cel_is_reported_with_rule_line_and_column():
    [issue] = issues_of("""\
        - id: R1
          when: "dsr > && 3"
          then: [{action: deny}]
          audit: {reason_code: X}
    """)
    assert issue.rule_id == "R1"
    assert (issue.line, issue.column) == (10, 18)  # the '&&' in `    when: "dsr > && 3"`
    assert issue.message.startswith("CEL: Syntax error")


def test_unknown_inputs_duplicates_actions_and_reasons_are_reported():
    issues = issues_of("""\
        - id: R1
          when: "salary > 1"
          then: [{action: deny}]
          audit: {reason_code: X}
        - id: R1
          when: "dsr > 1.0"
          then: [{action: explode}]
        - id: R3
          when: "income < 10"
          then: [{action: require_hitl}]
    """)
    messages = {(i.rule_id, i.message.split(":")[0].split(" '")[0]) for i in issues}
    assert ("R1", "Unknown input 'salary'") in {(i.rule_id, i.message.split(":")[0]) for i in issues}
    assert ("R1", "Duplicate rule id") in messages
    assert any("Unknown action 'explode'" in i.message for i in issues)
    assert any(i.rule_id == "R3" and "reason_code" in i.message for i in issues)
    assert all(i.line > 0 and i.column > 0 for i in issues)


def test_an_invalid_input_schema_is_reported():
    result = parse_policy(HEAD.replace("type: object", "type: 12") + 'rules:\n  - id: R1\n    when: "true"\n'
                                                                      '    then: [{action: allow}]\n')
    assert not result.ok
    assert "not valid JSON Schema" in result.issues[0].message


@pytest.mark.parametrize("source", ["", "[1, 2]", "kind: decision\nrules: {", "kind: access\nname: x\n"])
def test_broken_documents_give_issues_not_exceptions(source):
    result = parse_policy(source)
    assert not result.ok and result.issues


@given(st.text(max_size=300))
def test_any_text_is_parsed_without_raising(text):
    result = parse_policy(text)
    assert isinstance(result.issues, list)
