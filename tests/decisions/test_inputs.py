import pytest

from decisions.inputs import MAX_DEPTH, InputTooComplex, guard_input
from dos.pii import mask_text
from tests.decisions.test_decide_api import BASE


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"x": value}
    return value


def test_deep_large_or_long_inputs_are_refused_with_the_path():
    with pytest.raises(InputTooComplex) as info:
        guard_input({"a": nested(MAX_DEPTH + 1)})
    assert next(iter(info.value.errors)).startswith("input.a.x")
    with pytest.raises(InputTooComplex, match="more than 1000 items"):
        guard_input({"docs": list(range(1001))})
    with pytest.raises(InputTooComplex, match="longer than"):
        guard_input({"note": "가" * 10_001})


def test_the_snapshot_is_masked_and_the_kinds_found_are_listed():
    result = guard_input({"name": "홍길동", "rrn": "900101-1234568", "phone": "010-1234-5678",
                          "account": "110-234-567890", "mail": "kim@example.co.kr", "dsr": 32.0})
    assert result.snapshot["rrn"] == "[RRN]" and result.snapshot["account"] == "[ACCOUNT]"
    assert result.snapshot["dsr"] == 32.0
    assert result.findings == ["ACCOUNT", "EMAIL", "PHONE", "RRN"]


@pytest.mark.parametrize("text", ["2026-11-22", "order 12-34", "v1.2.3", "100-200"])
def test_short_hyphenated_numbers_are_not_taken_for_accounts(text):
    assert mask_text(text) == text


@pytest.mark.django_db
def test_a_too_deep_input_is_400_through_the_api_and_nothing_is_written(acme, lending):
    from decisions.models import DecisionRecord
    from dos import scope
    from tests.conftest import api_client
    from tests.factories import make_key

    api = api_client(make_key(acme, scopes=["decisions.run"]))
    response = api.post("/api/v1/decide", {"subject_id": "s", "purpose": "loan_screening", "input": {**BASE, "x": nested(40)}},
                        format="json")
    assert response.status_code == 400 and any(k.startswith("input.x") for k in response.json()["errors"])
    with scope.org_scope(acme.id):
        assert not DecisionRecord.objects.exists()
