"""Human review: cases, tasks, queues, SLA policies, routing, appeals, notes and attachments."""

from django.apps import AppConfig


class HitlConfig(AppConfig):
    name = "hitl"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Human review"
