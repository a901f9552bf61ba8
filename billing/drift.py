"""Usage ↔ invoice drift: what was metered for a month against what the month's invoices billed,
per org and metric. Within USAGE_RECONCILE_ALERT_PCT (seeds: 1 %) is fine; above it the row is
flagged and an alert is raised — a Prometheus counter (``dos_billing_invoice_drift_alerts_total``),
an entry on the org's audit chain (``billing.invoice_drift_alert``) and an error log line — once per
drift: recomputing a month whose figures already alerted raises nothing new.

Both sides are taken on the invoice's own basis, so a correct invoice shows no drift:

* metered — the month's usage rollups (``UsageMonthly``, every project) plus the late usage of
  earlier, closed months carried onto this month's invoice (``UsageAdjustment.apply_to_month``);
* invoiced — on the month's issued, paid or uncollectible invoices (drafts are not billed, void ones
  no longer are), the ``used`` quantity each usage line explains in its ``meta`` (before inclusions
  and packaging, so a package or graduated price does not read as drift).

A metric is compared when the invoice's price version prices it or the invoice carries a line for
it: usage of a metric the plan does not bill is not drift, a priced metric missing from the invoice
is (100 %).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from billing.models import Invoice, InvoiceDrift, InvoiceStatus, PriceVersion, UsageAdjustment, UsageMonthly
from billing.pricebook import price_spec
from billing.subledger import platform_finance_only
from billing.subledger.metrics import INVOICE_DRIFT_ALERTS, INVOICE_DRIFT_OPEN
from dos.audit import audit_record
from dos.authz import action
from dos.tasks import for_each_org

log = structlog.get_logger(__name__)

DRIFT_COMPUTE = action("billing.drift.compute", "billing.manage")
BILLED = (InvoiceStatus.ISSUED, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)


def tolerance_pct() -> Decimal:
    return Decimal(str(settings.USAGE_RECONCILE_ALERT_PCT))


def drift_pct(metered: Decimal, invoiced: Decimal) -> Decimal:
    """|metered − invoiced| as a percentage of the larger side (0 when both are 0), 3 decimals."""
    base = max(metered, invoiced)
    return round(abs(metered - invoiced) / base * 100, 3) if base else Decimal("0.000")


def _priced_metrics(invoice: Invoice, versions: dict) -> set[str]:
    version_id = (invoice.rating or {}).get("price_version_id")
    if version_id is None:
        return set()
    if version_id not in versions:
        version = PriceVersion.objects.filter(pk=version_id).first()
        versions[version_id] = {m.metric for m in price_spec(version).metrics} if version else set()
    return versions[version_id]


def _invoiced(org_id, month: dt.date) -> tuple[dict[str, Decimal], set[str], list[str]]:
    invoiced: dict[str, Decimal] = defaultdict(Decimal)
    compared: set[str] = set()
    numbers: list[str] = []
    versions: dict = {}
    invoices = (Invoice.objects.filter(org_id=org_id, period_start=month, status__in=BILLED)
                .prefetch_related("lines").order_by("number"))
    for invoice in invoices:
        numbers.append(invoice.number)
        compared |= _priced_metrics(invoice, versions)
        for line in invoice.lines.all():
            if line.kind == "usage" and line.code.startswith("usage:"):
                metric = line.code.split(":", 1)[1]
                compared.add(metric)
                invoiced[metric] += Decimal(str((line.meta or {}).get("used", line.quantity)))
    return invoiced, compared, numbers


def _metered(org_id, month: dt.date) -> dict[str, Decimal]:
    metered: dict[str, Decimal] = defaultdict(Decimal)
    for row in (UsageMonthly.objects.filter(org_id=org_id, month=month).values("metric")
                .annotate(total=Sum("value")).order_by()):
        metered[row["metric"]] += row["total"]
    for row in (UsageAdjustment.objects.filter(org_id=org_id, apply_to_month=month).values("metric")
                .annotate(total=Sum("value")).order_by()):
        metered[row["metric"]] += row["total"]
    return metered


def invoice_drift_compute(*, org_id, month: dt.date, actor) -> list[InvoiceDrift]:
    """Compare, store and alert for one org and month (run in the org's scope). A month without a
    billed invoice has nothing to compare yet and keeps no rows."""
    actor = platform_finance_only(actor, DRIFT_COMPUTE)
    month = month.replace(day=1)
    with transaction.atomic():
        invoiced, compared, numbers = _invoiced(org_id, month)
        if not numbers:
            InvoiceDrift.objects.filter(org_id=org_id, month=month).delete()
            return []
        metered = _metered(org_id, month)
        rows = []
        for metric in sorted(compared):
            used, billed = metered.get(metric, Decimal(0)), invoiced.get(metric, Decimal(0))
            if not used and not billed:
                continue
            pct = drift_pct(used, billed)
            alert = pct > tolerance_pct()
            before = (InvoiceDrift.objects.filter(org_id=org_id, month=month, metric=metric)
                      .values_list("metered", "invoiced", "alert").first())
            row, _ = InvoiceDrift.objects.update_or_create(
                org_id=org_id, month=month, metric=metric,
                defaults={"metered": used, "invoiced": billed, "drift_pct": pct, "alert": alert, "invoices": numbers})
            if alert and before != (used, billed, True):
                _alert(org_id=org_id, month=month, metric=metric, metered=used, invoiced=billed, pct=pct,
                       numbers=numbers, actor=actor)
            rows.append(row)
        InvoiceDrift.objects.filter(org_id=org_id, month=month).exclude(metric__in=[r.metric for r in rows]).delete()
    return rows


def _alert(*, org_id, month, metric, metered, invoiced, pct, numbers, actor) -> None:
    INVOICE_DRIFT_ALERTS.labels(metric=metric).inc()
    log.error("billing.invoice_drift_alert", org_id=str(org_id), metric=metric, month=month.isoformat(),
              metered=str(metered), invoiced=str(invoiced), drift_pct=str(pct), invoices=numbers)
    audit_record(org_id=org_id, action="billing.invoice_drift_alert", actor=actor,
                 target=f"usage:{metric}:{month:%Y-%m}",
                 data={"metered": str(metered), "invoiced": str(invoiced), "drift_pct": str(pct),
                       "tolerance_pct": str(tolerance_pct()), "invoices": numbers})


ORGS_BILLED = ("SELECT DISTINCT org_id FROM billing_invoice WHERE period_start = %s "
               "AND status IN ('issued', 'paid', 'uncollectible')")


def invoice_drift_run(*, month: dt.date, actor) -> dict:
    """The month's report for every org with a billed invoice, whatever the org's status: the orgs
    found in one audited platform scope (docs/scale.md), each computed in its own scope and
    transaction — one org's failure is logged and the others still done."""
    actor = platform_finance_only(actor, DRIFT_COMPUTE)
    month = month.replace(day=1)
    results = for_each_org(job=f"invoice_drift {month:%Y-%m} (orgs with billed invoices)", sql=ORGS_BILLED,
                           params=[month], every_status=True,
                           work=lambda org_id: invoice_drift_compute(org_id=org_id, month=month, actor=actor))
    alerts = sum(1 for rows in results for r in rows if r.alert)
    INVOICE_DRIFT_OPEN.labels(month=f"{month:%Y-%m}").set(alerts)
    return {"month": month.isoformat(), "orgs": len(results), "rows": sum(len(rows) for rows in results),
            "alerts": alerts}


def previous_month(today: dt.date) -> dt.date:
    return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
