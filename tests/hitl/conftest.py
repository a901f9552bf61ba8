"""HITL fixtures: Acme's review desk (review → burst → senior, plus a documents queue routed by
rule) with alice (reviewer, documents skill) and bob (senior reviewer) on it; carol is a second
reviewer so that four-eyes and conflict-of-interest cases have someone else to go to."""

import pytest

from dos import scope
from hitl.models import Queue
from hitl.setup import desk_install_defaults, reviewer_profile_save
from tests.factories import UserFactory, add_member


@pytest.fixture
def carol(acme):
    user = UserFactory(email="carol@acme.example", full_name="Carol Reviewer")
    add_member(acme, user, "reviewer")
    return user


@pytest.fixture
def desk(acme, alice, bob, carol):
    with scope.org_scope(acme.id):
        queues = desk_install_defaults(org_id=acme.id, actor="system:test")
        queues["documents"] = Queue.objects.create(
            org_id=acme.id, name="documents", rank=10, routing_rule='"DOCS_MISSING" in reason_codes',
            skills=["docs"], sla_policy=queues["review"].sla_policy, overflow_queue=queues["burst"])
        reviewer_profile_save(org_id=acme.id, user=alice, skills=["docs"], weight=1, max_concurrent=10)
        reviewer_profile_save(org_id=acme.id, user=carol, skills=[], weight=1, max_concurrent=10)
        reviewer_profile_save(org_id=acme.id, user=bob, skills=["senior"], weight=1, max_concurrent=10)
    return queues
