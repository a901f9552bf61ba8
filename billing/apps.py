"""Meter events, usage rollups, quotas and throttling, plans and prices, rating, invoices, payments, dunning.

Stands on: dos, tenancy.
"""

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.subject_data import subject_usage
        from dos.subject_data import collector_register

        collector_register("usage", subject_usage, order=30)  # after decisions: events name decision ids
