"""Routing (SPEC §10): which queue a case waits in, and which reviewer gets it.

Queue: the first active queue, by rank, whose CEL rule matches the case's attributes; otherwise
the fallback queue. A queue whose open depth has reached its threshold overflows along
``overflow_queue`` (standard → burst → senior).

Reviewer: weighted round-robin with an explicit cursor on the queue row. The cursor walks a fixed
interleaved sequence built from the eligible reviewers' weights (smooth weighted round-robin, so
3:2:1 gives a b a c b a rather than a a a b b c); reviewers who are unavailable, lack the queue's
skills or are at their maximum of open cases are stepped over. The queue row and the chosen
reviewer's profile row are locked, and the reviewer's load is counted under that lock, so two
transactions can never push a reviewer past ``max_concurrent``.
"""

from __future__ import annotations

from functools import lru_cache

import cel
import structlog
from django.db.models import Count

from hitl.choices import CaseStatus, QueueKind
from hitl.models import Case, Queue, ReviewerProfile

log = structlog.get_logger(__name__)

ROUTING_VARIABLES = ("priority", "project", "product", "reason_codes", "risk_score", "source")


class RoutingError(RuntimeError):
    """No queue can take the case (no rule matched and the org has no fallback queue)."""


@lru_cache(maxsize=512)
def _program(rule: str):
    return cel.compile(rule)


def rule_error(rule: str) -> str | None:
    """Why a routing rule does not compile (None when it does) — for forms and the API."""
    try:
        _program(rule)
    except ValueError as exc:
        return str(exc).split("\n")[0][:300]
    return None


def case_attributes(case: Case, project_slug: str = "") -> dict:
    return {
        "priority": case.priority,
        "project": project_slug,
        "product": case.product or "",
        "reason_codes": list(case.reason_codes or []),
        "risk_score": float(case.risk_score) if case.risk_score is not None else 0.0,
        "source": case.source,
    }


def _matches(queue: Queue, attributes: dict) -> bool:
    context = cel.Context()
    context.update(attributes)
    try:
        return _program(queue.routing_rule).execute(context) is True
    except Exception as exc:  # noqa: BLE001 - a broken rule must not stop intake; it is skipped and logged
        log.warning("hitl.routing_rule_failed", queue=queue.name, error=str(exc)[:200])
        return False


def open_depth(queue: Queue) -> int:
    return Case.objects.filter(queue=queue).exclude(status=CaseStatus.CLOSED).count()


def queue_choose(attributes: dict) -> Queue:
    queues = list(Queue.objects.filter(active=True).order_by("rank", "name"))
    chosen = next((q for q in queues if q.routing_rule and _matches(q, attributes)), None)
    if chosen is None:
        chosen = next((q for q in queues if q.is_fallback), None)
    if chosen is None:
        raise RoutingError("No queue matches this case and the organisation has no fallback queue.")
    return overflow_of(chosen)


def overflow_of(queue: Queue) -> Queue:
    """Follow the overflow chain while a queue is at its depth threshold (cycles are cut)."""
    seen = {queue.pk}
    while queue.overflow_queue_id and open_depth(queue) >= queue.depth_threshold:
        following = Queue.objects.filter(pk=queue.overflow_queue_id, active=True).first()
        if following is None or following.pk in seen:
            break
        seen.add(following.pk)
        queue = following
    return queue


def senior_queue() -> Queue | None:
    return Queue.objects.filter(kind=QueueKind.SENIOR, active=True).order_by("rank", "name").first()


def weighted_sequence(profiles: list[ReviewerProfile]) -> list[ReviewerProfile]:
    """Smooth weighted round-robin over ``profiles`` (in the given order), one full cycle."""
    total = sum(p.weight for p in profiles)
    current = [0] * len(profiles)
    sequence = []
    for _ in range(total):
        for index, profile in enumerate(profiles):
            current[index] += profile.weight
        best = max(range(len(profiles)), key=lambda i: (current[i], -i))
        current[best] -= total
        sequence.append(profiles[best])
    return sequence


def _eligible(queue: Queue) -> list[ReviewerProfile]:
    needed = set(queue.skills or [])
    profiles = ReviewerProfile.objects.filter(available=True, weight__gt=0, user__is_active=True).order_by("id")
    return [p for p in profiles if needed <= set(p.skills or [])]


def _load(user_ids) -> dict:
    rows = (Case.objects.filter(owner_id__in=user_ids).exclude(status=CaseStatus.CLOSED)
            .values("owner_id").annotate(n=Count("id")))
    return {row["owner_id"]: row["n"] for row in rows}


def reviewer_pick(queue: Queue, *, exclude_user_ids=()) -> ReviewerProfile | None:
    """The next reviewer for ``queue`` (None when nobody has capacity: the case waits unassigned).

    Must run inside the transaction that assigns the case."""
    locked = Queue.objects.select_for_update().get(pk=queue.pk)
    excluded = {str(u) for u in exclude_user_ids if u}
    sequence = weighted_sequence(_eligible(locked))
    if not sequence:
        return None
    load = _load({p.user_id for p in sequence})
    for step in range(len(sequence)):
        profile = sequence[(locked.rr_cursor + step) % len(sequence)]
        if str(profile.user_id) in excluded or load.get(profile.user_id, 0) >= profile.max_concurrent:
            continue
        # Exact under concurrency: lock this reviewer, then count again.
        fresh = ReviewerProfile.objects.select_for_update().get(pk=profile.pk)
        if not fresh.available or _load([fresh.user_id]).get(fresh.user_id, 0) >= fresh.max_concurrent:
            continue
        Queue.objects.filter(pk=locked.pk).update(rr_cursor=locked.rr_cursor + step + 1)
        queue.rr_cursor = locked.rr_cursor + step + 1
        return fresh
    return None


def waiting_cases(queue: Queue, limit: int = 50):
    """Unassigned open cases of a queue, most urgent first (picked up when capacity frees)."""
    return (Case.objects.filter(queue=queue, owner__isnull=True)
            .exclude(status__in=[CaseStatus.CLOSED, CaseStatus.AWAITING_DOCS])
            .order_by("sla_due_at", "created_at")[:limit])
