"""The Celery application (worker and beat) and the default beat schedules."""

from .app import app

__all__ = ["app"]
