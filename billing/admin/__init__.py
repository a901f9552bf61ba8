"""Billing back office, one module per area (each registers its own pages)."""

from billing.admin import (  # noqa: F401  # noqa: F401, E402
    accounts,
    invoices,
    ledger,
    metering,
    pricing,
    reports,
)
