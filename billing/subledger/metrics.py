"""Prometheus series of the subledger and the finance reports."""

from prometheus_client import Counter, Gauge

JOURNALS_BOOKED = Counter("dos_billing_journals_total", "Journals booked in the subledger.", ["event", "kind"])
INVOICE_DRIFT_ALERTS = Counter(
    "dos_billing_invoice_drift_alerts_total",
    "Org-metric-months whose invoiced quantity differs from metered usage by more than the tolerance.", ["metric"])
INVOICE_DRIFT_OPEN = Gauge(
    "dos_billing_invoice_drift_alerts_open",
    "Org-metric rows of the last drift run still above the tolerance, per month.", ["month"])
