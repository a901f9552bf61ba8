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
from billing.models.invoicing import (  # noqa: F401, E402
    CreditApplication,
    CreditNote,
    CreditNoteLine,
    CreditNoteStatus,
    DocumentSeries,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    SeriesKind,
)
from billing.models.ledger import Account, InvoiceDrift, Journal, JournalLine  # noqa: F401, E402
