"""Billing back office, one module per area (each registers its own pages)."""

from billing.admin import metering  # noqa: F401
