"""Writes for observability state that is not tenant-owned."""

from __future__ import annotations

from datetime import datetime

import redis
from django.conf import settings

BEAT_HEARTBEAT_KEY = "dos:beat:heartbeat"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def beat_heartbeat_record(*, at: datetime) -> None:
    """Beat schedules this every 30 s through a worker: its age proves both are alive."""
    _redis().set(BEAT_HEARTBEAT_KEY, at.isoformat(), ex=600)


def beat_heartbeat_last() -> str | None:
    value = _redis().get(BEAT_HEARTBEAT_KEY)
    return value.decode() if value else None
