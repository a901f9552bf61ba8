"""The contract's fast path (a code-generated validator) never accepts what the JSON Schema 2020-12
validator refuses, never changes the input, and steps aside for keywords it does not share."""

from fastjsonschema import JsonSchemaException
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from decisions.packs import load_pack
from decisions.policy.engine import compile_policy, fast_validator

LENDING = compile_policy(load_pack("lending_brokerage").rules["lending_triage"])
SCHEMA = LENDING.policy.input_schema
FIELDS = sorted(SCHEMA["properties"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False),
                    st.text(max_size=12), st.lists(st.sampled_from(["income_proof", "id_card", "x"]), max_size=6))


def _agrees(data) -> None:
    # Production (CompiledPolicy.validate) treats only the validator's own JsonSchemaException as a
    # refusal; anything else the generated code raises would escape as a 500, so it fails here too.
    fast_ok = True
    try:
        LENDING._fast(data)
    except JsonSchemaException:
        fast_ok = False
    if fast_ok:
        assert Draft202012Validator(SCHEMA).is_valid(data), data


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*FIELDS, "extra"]), scalars, max_size=len(FIELDS) + 1))
def test_whatever_the_fast_path_accepts_the_contract_accepts(data):
    _agrees(data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(load_pack("lending_brokerage").fixtures), st.sampled_from(FIELDS), scalars)
def test_valid_applications_with_one_field_changed(fixture, field, value):
    _agrees({**fixture["input"], field: value})


def test_the_lending_contract_takes_the_fast_path_and_reports_errors_the_same_way():
    assert LENDING._fast is not None
    from decisions.policy.engine import InputInvalid

    try:
        LENDING.validate({"age": "old"})
    except InputInvalid as exc:
        assert "input.age" in exc.errors and "input" in exc.errors  # every failing field, by path
    else:
        raise AssertionError("an invalid input was accepted")


def test_keywords_outside_the_shared_subset_use_the_full_validator_only():
    assert fast_validator({"type": "array", "prefixItems": [{"type": "string"}]}) is None
    assert fast_validator({"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}}) is None
    assert fast_validator({"type": "array", "items": [{"type": "string"}]}) is None


def test_defaults_are_not_filled_into_the_input():
    check = fast_validator({"type": "object", "properties": {"a": {"type": "integer", "default": 3}}})
    data = {}
    check(data)
    assert data == {}
