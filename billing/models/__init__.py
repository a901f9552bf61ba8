"""Billing models, one module per area: metering (events, rollups, counters) first."""

from billing.models.accounts import (  # noqa: F401
    BillingAccount,
    BillingCycle,
    Subscription,
    SubscriptionEvent,
    SubscriptionPhase,
    SubscriptionStatus,
    TaxExempt,
)
from billing.models.invoicing import (  # noqa: F401
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
from billing.models.ledger import Account, InvoiceDrift, Journal, JournalLine  # noqa: F401
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
from billing.models.pricing import (  # noqa: F401
    Coupon,
    CouponKind,
    CouponRedemption,
    CreditConsumption,
    CreditGrant,
    PricePlan,
    PriceVersion,
    PriceVersionStatus,
    RedemptionStatus,
    SeatLevel,
    SeatRole,
)
