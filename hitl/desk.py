"""A new org's review desk: the standard SLA policy and the three queues every org starts with
(review → burst → senior). Reviewer profiles are created per person with ``reviewer_profile_save``."""

from __future__ import annotations

from django.db import transaction

from dos.audit import audit_record
from dos.authz import action, authorize
from hitl.choices import QueueKind
from hitl.models import Queue, ReviewerProfile, SLAPolicy


def desk_install_defaults(*, org_id, actor=None) -> dict[str, Queue]:
    """Idempotent: existing queues and the policy are kept as they are."""
    with transaction.atomic():
        policy, _ = SLAPolicy.objects.get_or_create(org_id=org_id, name="Standard")
        senior, _ = Queue.objects.get_or_create(org_id=org_id, name="senior", defaults={
            "kind": QueueKind.SENIOR, "rank": 900, "skills": ["senior"], "sla_policy": policy,
            "description": "Escalations, appeals and overflow; senior reviewers only.", "depth_threshold": 1000})
        burst, _ = Queue.objects.get_or_create(org_id=org_id, name="burst", defaults={
            "kind": QueueKind.BURST, "rank": 800, "sla_policy": policy, "overflow_queue": senior,
            "description": "Takes new cases while the review queue is over its depth.", "depth_threshold": 100})
        review, created = Queue.objects.get_or_create(org_id=org_id, name="review", defaults={
            "kind": QueueKind.STANDARD, "rank": 500, "sla_policy": policy, "overflow_queue": burst,
            "is_fallback": True, "description": "Every case no other rule claims.", "depth_threshold": 50})
        if created:
            audit_record(org_id=org_id, action="hitl.desk.installed", actor=actor,
                         data={"queues": ["review", "burst", "senior"], "sla_policy": policy.name})
    return {"review": review, "burst": burst, "senior": senior}


DESK_CONFIGURE = action("desk.configure", "members.manage")  # org owners and admins set the desk up


def reviewer_profile_save(*, org_id, user, skills=(), weight: int = 1, max_concurrent: int = 10,
                          available: bool = True, actor) -> ReviewerProfile:
    actor = authorize(actor, DESK_CONFIGURE)
    if weight < 0 or max_concurrent < 1:
        raise ValueError("weight must be ≥ 0 and max_concurrent ≥ 1")
    with transaction.atomic():
        profile, _ = ReviewerProfile.objects.update_or_create(org_id=org_id, user=user, defaults={
            "skills": sorted(set(skills)), "weight": weight, "max_concurrent": max_concurrent, "available": available})
        audit_record(org_id=org_id, action="hitl.reviewer.saved", actor=actor, target=f"user:{user.pk}",
                     data={"skills": profile.skills, "weight": weight, "max_concurrent": max_concurrent,
                           "available": available})
    return profile


def desk_setting_save(*, obj, org_id, actor, changed: dict):
    """Save a queue or an SLA policy changed in the back office, with an audit entry naming what
    changed (the one write path for desk settings besides the defaults above)."""
    actor = authorize(actor, DESK_CONFIGURE)
    kind = obj._meta.model_name  # "queue" or "slapolicy"
    with transaction.atomic():
        if obj.org_id is None:
            obj.org_id = org_id
        obj.save()
        audit_record(org_id=obj.org_id, action=f"hitl.{kind}.saved", actor=actor, target=f"{kind}:{obj.pk}",
                     data={name: str(value) for name, value in changed.items()})
    return obj
