"""Batch decisions are stored with one array-bound INSERT (dos.sqlbatch.bulk_insert)."""

import pytest

from dos import scope

pytestmark = pytest.mark.django_db(transaction=True)


def test_bulk_insert_stores_what_the_orm_would(acme, lending):
    """Binary-bound arrays: JSON with Korean text, quotes and nulls, decimals and timestamps come back intact."""
    import uuid
    from decimal import Decimal

    from decisions.models import DecisionRecord
    from decisions.services import published_version
    from dos.sqlbatch import bulk_insert
    from tests.factories import default_project

    project = default_project(acme)
    with scope.org_scope(acme.id):
        version = published_version(project=project, policy=None)
        records = [DecisionRecord(
            id=uuid.uuid4(), org_id=acme.id, project=project, policy_version=version, policy_sha256=version.sha256,
            subject_token=f"vt_{i}", purpose="loan_screening", input_hash="0" * 64, outcome="approve",
            snapshot={"name": "홍길동 \"q\" \\ {}", "n": i, "none": None}, reason_codes=[{"code": "OK", "message": "승인"}],
            rule_path=[], labels=["a,b"], latency_ms=Decimal("1.250")) for i in range(3)]
        bulk_insert(DecisionRecord, records)
        stored = {r.id: r for r in DecisionRecord.objects.all()}
    assert set(stored) == {r.id for r in records}
    for record in records:
        got = stored[record.id]
        assert (got.snapshot, got.reason_codes, got.labels, got.latency_ms, got.decided_at, got.refs) == (
            record.snapshot, record.reason_codes, record.labels, record.latency_ms, record.decided_at, {})
