"""Routing: queue by rule with overflow; reviewers by weighted round-robin within capacity."""

import random
from collections import Counter

import pytest

from dos import scope
from hitl.actions import case_act
from hitl.choices import CaseSource, CaseStatus
from hitl.desk import desk_install_defaults, reviewer_profile_save
from hitl.models import Case, Queue, ReviewerProfile
from hitl.routing import rule_error, weighted_sequence
from hitl.services import case_open
from tenancy.roles import ROLE_PERMISSIONS
from tests.factories import UserFactory, acting, add_member, default_project

pytestmark = pytest.mark.django_db


def _open(org, **kw):
    return case_open(org_id=org.id, project=default_project(org), source=CaseSource.API, actor="system:test", **kw)


def test_the_weighted_sequence_interleaves_by_weight():
    profiles = [ReviewerProfile(weight=w) for w in (3, 2, 1)]
    sequence = weighted_sequence(profiles)
    assert [profiles.index(p) for p in sequence] == [0, 1, 0, 2, 1, 0]


def test_1000_cases_follow_the_weights_within_capacity_and_never_reach_the_unavailable(acme):
    people = []
    for name in ("w3", "w2", "w1", "away"):
        user = UserFactory(email=f"{name}@acme.example")
        add_member(acme, user, "reviewer")
        people.append(user)
    rng = random.Random(7)
    counts, peak = Counter(), Counter()
    with scope.org_scope(acme.id):
        desk_install_defaults(org_id=acme.id, actor="system:test")
        Queue.objects.filter(name="review").update(depth_threshold=10_000)
        for user, weight, available in zip(people, (3, 2, 1, 5), (True, True, True, False), strict=True):
            reviewer_profile_save(org_id=acme.id, user=user, weight=weight, max_concurrent=8, available=available,
                                  actor="system:test")
        perms = ROLE_PERMISSIONS["reviewer"]
        for _ in range(1000):
            case = _open(acme)
            if case.owner_id:
                counts[case.owner_id] += 1
            load = Counter(Case.objects.exclude(status=CaseStatus.CLOSED).exclude(owner=None)
                           .values_list("owner_id", flat=True))
            for owner, n in load.items():
                peak[owner] = max(peak[owner], n)
            # Reviewers work through their cases at random, so capacity frees up as it would at a desk.
            open_cases = list(Case.objects.exclude(status=CaseStatus.CLOSED).exclude(owner=None))
            for done in rng.sample(open_cases, k=min(len(open_cases), rng.choice([0, 1, 2, 2]))):
                case_act(case=done, action="approve", actor=acting(done.owner, perms))
        counts = Counter(Case.objects.exclude(owner=None).values_list("owner_id", flat=True))
        assert Case.objects.count() == 1000
        waiting = Case.objects.filter(owner=None).count()
        full = all(Case.objects.filter(owner=u).exclude(status=CaseStatus.CLOSED).count() == 8 for u in people[:3])
    assert waiting == 0 or full  # a case waits only while every available reviewer is at capacity
    assigned = sum(counts.values())
    assert counts[people[3].pk] == 0 and peak[people[3].pk] == 0
    assert all(peak[u.pk] <= 8 for u in people)
    shares = [counts[u.pk] / assigned for u in people[:3]]
    for share, weight in zip(shares, (3, 2, 1), strict=True):
        assert abs(share - weight / 6) <= 0.05, shares


def test_a_case_waits_when_everyone_is_full_and_is_picked_up_when_capacity_frees(acme, alice, bob, carol, desk):
    with scope.org_scope(acme.id):
        ReviewerProfile.objects.update(max_concurrent=1)
        first, second, third = _open(acme), _open(acme), _open(acme)
        assert {first.owner_id, second.owner_id, third.owner_id} == {alice.pk, bob.pk, carol.pk}
        waiting = _open(acme)
        assert waiting.owner_id is None
        case_act(case=first, action="deny", actor=acting(first.owner, ROLE_PERMISSIONS["senior_reviewer"]))
        waiting.refresh_from_db()
        assert waiting.owner_id == first.owner_id


def test_a_queue_over_its_depth_overflows_to_burst_then_senior(acme, desk):
    with scope.org_scope(acme.id):
        Queue.objects.filter(name="review").update(depth_threshold=2)
        Queue.objects.filter(name="burst").update(depth_threshold=1)
        queues = [_open(acme).queue.name for _ in range(5)]
    assert queues == ["review", "review", "burst", "senior", "senior"]


def test_rules_route_by_case_attributes_and_a_broken_rule_is_skipped(acme, desk):
    with scope.org_scope(acme.id):
        Queue.objects.create(org_id=acme.id, name="vip", rank=5, routing_rule='priority == "p0" && risk_score > 0.8')
        Queue.objects.create(org_id=acme.id, name="broken", rank=1, routing_rule="risk_score.nope()")
        assert _open(acme, priority="p0", risk_score=0.9).queue.name == "vip"
        assert _open(acme, priority="p0", risk_score=0.1).queue.name == "review"
        assert _open(acme, reason_codes=["DOCS_MISSING"]).queue.name == "documents"
    assert rule_error('priority ==').startswith("Failed to parse") and rule_error('priority == "p1"') is None


def test_the_author_of_a_case_is_never_its_reviewer(acme, alice, carol, desk):
    with scope.org_scope(acme.id):
        for _ in range(4):
            case = _open(acme, created_by=alice)
            assert case.owner_id != alice.pk


def test_routing_sees_only_the_orgs_own_queues_and_reviewers(acme, outsider, mallory, desk):
    with scope.org_scope(outsider.id):
        desk_install_defaults(org_id=outsider.id, actor="system:test")
        reviewer_profile_save(org_id=outsider.id, user=mallory, weight=1, actor="system:test")
        case = _open(outsider)
        assert case.queue.org_id == outsider.id and case.owner_id == mallory.pk
        assert Case.objects.count() == 1 and Queue.objects.count() == 3
    with scope.org_scope(acme.id):
        assert not Case.objects.filter(pk=case.pk).exists()
