"""Default beat schedules, one entry per named job. Apps add theirs here as they land."""

from datetime import timedelta

DEFAULT_BEAT_SCHEDULE = {
    "beat-heartbeat": {
        "task": "observability.tasks.beat_heartbeat",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
}
