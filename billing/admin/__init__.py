"""Billing back office, one module per area (each registers its own pages)."""

from billing.admin import metering  # noqa: F401
from billing.admin import ledger, reports  # noqa: F401, E402
from billing.admin import invoices  # noqa: F401, E402
from billing.admin import accounts, pricing  # noqa: F401, E402
