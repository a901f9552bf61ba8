"""Billing models, one module per area: metering (events, rollups, counters) first."""

from billing.models.metering import (  # noqa: F401
    LateStatus,
    MeterEvent,
    ReconciliationReport,
    RollupCursor,
    UsageAdjustment,
    UsageCounter,
    UsageDaily,
    UsageHourly,
    UsageMonthly,
)
