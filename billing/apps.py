"""Meter events, usage rollups, quotas and throttling, plans and prices, rating, invoices, payments, dunning.

Stands on: dos, tenancy.
"""

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from billing.invoicing.chain import billing_records_check
        from dos.ledger import record_check_register

        # dosctl audit verify --chain billing holds issued invoices and credit notes against their entries.
        record_check_register("billing", billing_records_check)
