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
from billing.models.pricing import (  # noqa: F401, E402
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
from billing.models.accounts import (  # noqa: F401, E402
    BillingAccount,
    BillingCycle,
    Subscription,
    SubscriptionEvent,
    SubscriptionPhase,
    SubscriptionStatus,
    TaxExempt,
)
