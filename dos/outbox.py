"""The transactional outbox: announce a change in the transaction that makes it."""

from __future__ import annotations

from dos.models import OutboxEvent


def outbox_emit(*, org_id, topic: str, key: str, payload: dict) -> OutboxEvent:
    return OutboxEvent.objects.create(org_id=org_id, topic=topic, key=key[:100], payload=payload)
