"""Meter events, usage rollups, quotas and throttling, plans and prices, rating, invoices, payments, dunning.

Stands on: dos, tenancy.
"""

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from billing import checks  # noqa: F401 - lateness below the purge floor
        from billing.invoicing.chain import billing_records_check
        from billing.subledger.chain import journal_records_check
        from dos.ledger import record_check_register

        # dosctl audit verify --chain billing holds issued invoices, credit notes and journals against their entries.
        record_check_register("billing", billing_records_check)
        record_check_register("billing", journal_records_check)

        from billing.subject_data import subject_usage
        from dos.subject_data import collector_register

        collector_register("usage", subject_usage, order=30)  # after decisions: events name decision ids

        # The launch price book comes back after a flush (tests, a wiped scratch database), like
        # Django's content types: the product never runs without prices.
        from django.db.models.signals import post_migrate

        post_migrate.connect(launch_price_book, sender=self, dispatch_uid="billing.launch_price_book")


def launch_price_book(sender, using="default", apps=None, **kwargs) -> None:
    from django.db import connections

    from billing.pricebook_launch import launch_price_book_ensure

    if apps is None or "billing_priceversion" not in connections[using].introspection.table_names():
        return
    try:
        plan, version = apps.get_model("billing", "PricePlan"), apps.get_model("billing", "PriceVersion")
    except LookupError:
        return
    launch_price_book_ensure(plan, version)
