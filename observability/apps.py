"""Probes, metrics, SLOs and evidence.

Stands on: dos (and celery_app, the Celery application it instruments).
"""

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dos.outbox import register
        from observability import celery_signals  # noqa: F401 - connects task counters
        from observability.decision_events import decision_finalized_observe

        register("decision.finalized", decision_finalized_observe)
