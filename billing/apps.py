"""Meter events, usage rollups, quotas and throttling, plans and prices, rating, invoices, payments, dunning.

Stands on: dos, tenancy.
"""

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"
