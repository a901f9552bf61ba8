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

from dos.errors import DomainError
from hitl.choices import CaseStatus, QueueKind
from hitl.models import Case, Queue, ReviewerProfile

log = structlog.get_logger(__name__)

ROUTING_VARIABLES = ("priority", "project", "product", "reason_codes", "risk_score", "source")


class RoutingError(DomainError):
    """No queue can take the case (no rule matched and the org has no fallback queue)."""

    status, code = 409, "no_queue"


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


def choose_among(queues: list[Queue], attributes: dict) -> Queue:
    """The first queue (in the given rank order) whose rule matches, else the fallback queue."""
    chosen = next((q for q in queues if q.routing_rule and _matches(q, attributes)), None)
    if chosen is None:
        chosen = next((q for q in queues if q.is_fallback), None)
    if chosen is None:
        raise RoutingError("No queue matches this case and the organisation has no fallback queue.")
    return chosen


def overflow_of(queue: Queue, *, active: dict, depth: dict) -> Queue:
    """Follow the overflow chain while a queue is at its depth threshold (cycles are cut);
    ``active`` maps id → active queue, ``depth`` id → open cases (``open_depths``)."""
    seen = {queue.pk}
    while queue.overflow_queue_id and depth.get(queue.pk, 0) >= queue.depth_threshold:
        following = active.get(queue.overflow_queue_id)
        if following is None or following.pk in seen:
            break
        seen.add(following.pk)
        queue = following
    return queue


def open_depths() -> dict:
    """Open cases per queue id (one query)."""
    rows = Case.objects.exclude(status=CaseStatus.CLOSED).values("queue_id").annotate(n=Count("id")).order_by()
    return {row["queue_id"]: row["n"] for row in rows}


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
    return reviewers_pick_many(queue, [exclude_user_ids])[0]


def reviewers_pick_many(queue: Queue, exclusions: list) -> list[ReviewerProfile | None]:
    """One reviewer (or None) per new case of ``queue``, in order; ``exclusions[i]`` are the user ids
    case i must not go to. The queue row is locked, then every eligible reviewer's profile (in id
    order, so concurrent pickers cannot deadlock), and loads are counted under those locks — exact
    under concurrency. Must run inside the transaction that assigns the cases."""
    locked = Queue.objects.select_for_update().get(pk=queue.pk)
    sequence = weighted_sequence(_eligible(locked))
    if not sequence:
        return [None] * len(exclusions)
    fresh = {p.pk: p for p in ReviewerProfile.objects.select_for_update().filter(
        pk__in={p.pk for p in sequence}, available=True).order_by("id")}
    load = _load({p.user_id for p in sequence})
    cursor, picks = locked.rr_cursor, []
    for excluded in exclusions:
        excluded = {str(u) for u in excluded if u}
        chosen = None
        for step in range(len(sequence)):
            profile = fresh.get(sequence[(cursor + step) % len(sequence)].pk)
            if (profile is None or str(profile.user_id) in excluded
                    or load.get(profile.user_id, 0) >= profile.max_concurrent):
                continue
            chosen, cursor = profile, cursor + step + 1
            load[profile.user_id] = load.get(profile.user_id, 0) + 1
            break
        picks.append(chosen)
    if cursor != locked.rr_cursor:
        Queue.objects.filter(pk=locked.pk).update(rr_cursor=cursor)
    queue.rr_cursor = cursor
    return picks


def waiting_cases(queue: Queue, limit: int = 50):
    """Unassigned open cases of a queue, most urgent first (picked up when capacity frees)."""
    return (Case.objects.filter(queue=queue, owner__isnull=True)
            .exclude(status__in=[CaseStatus.CLOSED, CaseStatus.AWAITING_DOCS])
            .order_by("sla_due_at", "created_at")[:limit])
