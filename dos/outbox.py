"""The transactional outbox: announce a change in the transaction that makes it, deliver it after.

Emitting
    ``outbox_emit(org_id=…, topic=…, key=…, payload=…)`` inserts the event in the caller's
    transaction (it exists exactly when the change does) and, once that transaction commits, asks
    a worker to drain the org's outbox (``dos.tasks.outbox_drain_org``). The beat sweep
    (``dos.tasks.outbox_drain_all``) catches whatever that kick missed, and every retry.

Handling
    An app registers handlers per topic from its ``AppConfig.ready()``, with
    ``@outbox_handler("decision.finalized")`` or ``register(topic, fn)``; ``dos`` never imports
    the apps above it. A handler receives the ``OutboxEvent`` and runs inside the org's scope.
    Delivery is *at least once*: a handler may see the same event again (a crash after it ran,
    or another handler of the topic failing) and must be idempotent, keyed by ``event.id`` or
    ``event.key``.

Delivering (``outbox_drain``)
    Due pending events are taken in batches with ``SELECT … FOR UPDATE SKIP LOCKED`` (two drainers
    never take the same event), one transaction per batch, inside the org's scope (RLS is forced
    on the table). Each event runs in a savepoint: every handler of its topic, then the mark as
    ``delivered`` — so the handlers' own writes and the mark commit together or not at all. A
    failure rolls the savepoint back, counts the attempt, keeps the masked, truncated error in
    ``last_error`` and schedules the next try with exponential back-off
    (``OUTBOX_BACKOFF_SECONDS`` · 2^(attempts−1), at most ``OUTBOX_BACKOFF_MAX_SECONDS``). After
    ``OUTBOX_MAX_ATTEMPTS`` failed attempts the event is ``dead``; ``outbox_retry`` (the admin's
    "retry now") makes it pending again with a fresh count.

Topics nobody handles
    An event whose topic has no handler in this process stays ``pending`` and is not attempted
    (no attempt is counted). Marking it delivered would be irreversible: a worker still running
    the previous release during a deploy, or one whose app failed to register, would silently
    drop events its successor handles. A topic meant to be discarded registers a no-op handler.

Settings (Django settings, with these defaults): ``OUTBOX_MAX_ATTEMPTS`` 8,
``OUTBOX_BACKOFF_SECONDS`` 30, ``OUTBOX_BACKOFF_MAX_SECONDS`` 3600, ``OUTBOX_BATCH_SIZE`` 100.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dos import scope
from dos.authz import action, authorize
from dos.models import OutboxEvent
from dos.pii import mask_text

log = structlog.get_logger(__name__)

Handler = Callable[[OutboxEvent], object]
S = OutboxEvent.Status

OUTBOX_RETRY = action("outbox.retry", "org.manage")
LAST_ERROR_CHARS = 1000

_handlers: dict[str, list[Handler]] = {}


class OutboxStateError(ValueError):
    """The event is not in a state that allows this (e.g. retrying an event that is not dead)."""

    status = 409
    code = "outbox_state"


def register(topic: str, handler: Handler) -> Handler:
    """Deliver events of ``topic`` to ``handler`` (call from ``AppConfig.ready()``; idempotent)."""
    handlers = _handlers.setdefault(topic, [])
    if handler not in handlers:
        handlers.append(handler)
    return handler


def outbox_handler(topic: str) -> Callable[[Handler], Handler]:
    """Decorator form of :func:`register`."""
    return lambda handler: register(topic, handler)


def handlers_for(topic: str) -> tuple[Handler, ...]:
    return tuple(_handlers.get(topic, ()))


def registered_topics() -> list[str]:
    return sorted(topic for topic, handlers in _handlers.items() if handlers)


def outbox_emit(*, org_id, topic: str, key: str, payload: dict) -> OutboxEvent:
    """Record the event in the current transaction; a worker drains the org's outbox after COMMIT."""
    event = OutboxEvent.objects.create(org_id=org_id, topic=topic, key=key[:100], payload=payload)
    if handlers_for(topic):
        transaction.on_commit(lambda: _kick(event.org_id), robust=True)
    return event


def _kick(org_id) -> None:
    # robust=True: a broker outage must not fail the request that already committed; the beat
    # sweep delivers the event a little later instead. While Redis is known to be down (the broker
    # is the same server) the kick is skipped rather than made to wait (docs/runbooks/degradation.md).
    from dos.redis_client import breaker
    from dos.tasks import outbox_drain_org

    if breaker.is_open:
        return
    outbox_drain_org.delay(org_id=str(org_id))


@dataclass
class DrainResult:
    delivered: int = 0
    failed: int = 0
    dead: int = 0

    def __iadd__(self, other: DrainResult) -> DrainResult:
        self.delivered += other.delivered
        self.failed += other.failed
        self.dead += other.dead
        return self

    @property
    def attempted(self) -> int:
        return self.delivered + self.failed + self.dead


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: base · 2^(attempts−1), capped."""
    base = getattr(settings, "OUTBOX_BACKOFF_SECONDS", 30)
    cap = getattr(settings, "OUTBOX_BACKOFF_MAX_SECONDS", 3600)
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, min(attempts - 1, 30))))


def error_text(exc: BaseException) -> str:
    """What ``last_error`` keeps: the exception's type and text, masked, then truncated."""
    return mask_text(f"{type(exc).__name__}: {exc}"[:8000])[:LAST_ERROR_CHARS]


def outbox_drain(*, org_id: uuid.UUID | str, now: dt.datetime | None = None, batch_size: int | None = None,
                 max_batches: int = 10) -> DrainResult:
    """Deliver the org's due pending events (see the module docstring); at most ``max_batches``
    batches, so one pass stays short and a flood is shared with the next pass."""
    now = now or timezone.now()
    batch_size = batch_size or getattr(settings, "OUTBOX_BATCH_SIZE", 100)
    total = DrainResult()
    for _ in range(max_batches):
        topics = registered_topics()
        if not topics:
            break
        with scope.org_scope(org_id):
            events = list(OutboxEvent.objects.select_for_update(skip_locked=True)
                          .filter(status=S.PENDING, next_attempt_at__lte=now, topic__in=topics)
                          .order_by("id")[:batch_size])
            for event in events:
                total += _deliver(event, now=now)
        if len(events) < batch_size:
            break
    return total


def _deliver(event: OutboxEvent, *, now: dt.datetime) -> DrainResult:
    attempts = event.attempts + 1
    try:
        with transaction.atomic():
            for handler in handlers_for(event.topic):
                handler(event)
            OutboxEvent.objects.filter(pk=event.pk).update(status=S.DELIVERED, attempts=attempts, delivered_at=now)
    except Exception as exc:  # noqa: BLE001 - any handler failure is the event's, recorded below
        error = error_text(exc)
        dead = attempts >= getattr(settings, "OUTBOX_MAX_ATTEMPTS", 8)
        fields = {"attempts": attempts, "last_error": error}
        if dead:
            fields["status"] = S.DEAD
        else:
            fields["next_attempt_at"] = now + backoff(attempts)
        OutboxEvent.objects.filter(pk=event.pk).update(**fields)
        log.warning("outbox.dead_lettered" if dead else "outbox.handler_failed", event_id=event.pk,
                    topic=event.topic, org_id=str(event.org_id), attempts=attempts, error=error)
        return DrainResult(dead=1) if dead else DrainResult(failed=1)
    log.info("outbox.delivered", event_id=event.pk, topic=event.topic, org_id=str(event.org_id), attempts=attempts)
    return DrainResult(delivered=1)


def outbox_retry(*, event: OutboxEvent, actor, now: dt.datetime | None = None) -> OutboxEvent:
    """Give a dead event a fresh set of attempts, due now (the admin's "retry now"). Audited."""
    from dos.audit import audit_record

    actor = authorize(actor, OUTBOX_RETRY)
    now = now or timezone.now()
    with transaction.atomic():
        locked = OutboxEvent.objects.select_for_update().get(pk=event.pk)
        if locked.status != S.DEAD:
            raise OutboxStateError(f"Outbox event {locked.pk} is {locked.status}; only dead events are retried.")
        OutboxEvent.objects.filter(pk=locked.pk).update(status=S.PENDING, attempts=0, next_attempt_at=now)
        audit_record(org_id=locked.org_id, action="outbox.retried", actor=actor, target=f"outbox:{locked.pk}",
                     data={"topic": locked.topic, "key": locked.key, "attempts": locked.attempts,
                           "last_error": locked.last_error})
        transaction.on_commit(lambda: _kick(locked.org_id), robust=True)
    locked.refresh_from_db()
    return locked
