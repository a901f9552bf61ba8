"""Redis keys of an org carry a `{org}` hash tag: in a Redis Cluster they share one slot."""

from __future__ import annotations

import uuid

import pytest
from redis.crc import key_slot

from billing import quotas
from dos.redis_client import org_key, redis_client
from tenancy import overrides

pytestmark = pytest.mark.django_db


def keys_of(org_id) -> list[str]:
    return [
        quotas._key(org_id, "decision_calls", "day", "2026-12-02"),
        quotas._key(org_id, "decision_calls", "month", "2026-12", kind="obs"),
        org_key("tb", org_id),
        overrides._cache_key(org_id),
    ]


def test_every_key_of_an_org_hashes_to_one_slot():
    org_id = uuid.uuid4()
    keys = keys_of(org_id)
    assert all(f"{{{org_id}}}" in key for key in keys), keys
    assert len({key_slot(key.encode()) for key in keys}) == 1


def test_different_orgs_spread_over_slots():
    slots = {key_slot(org_key("tb", uuid.uuid4()).encode()) for _ in range(200)}
    assert len(slots) > 150  # hashing by org, not by the shared prefix


def test_the_throttle_writes_its_bucket_under_the_org_tag(acme):
    from billing.throttle import bucket_take

    bucket_take(org_id=acme.id, rate=10, burst=10, now=1000.0)
    assert redis_client().exists(org_key("tb", acme.id)) == 1
    assert not redis_client().exists(f"dos:tb:{acme.id}")
