"""Daily reconciliation: metered totals (committed meter events) vs the usage observed where it
was served (Redis counters written by the enforcement path). Drift above
USAGE_RECONCILE_ALERT_PCT (seeds: ±1 %) raises an alert: a report row flagged ``alert``, an audit
entry, a Prometheus counter and an error log line — once per drift: running the day again (a
redelivered task, a manual rerun) that finds the same figures already alerted raises nothing new."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import structlog
from django.conf import settings
from django.db import connection, transaction

from billing.meters import METRICS
from billing.metrics import RECONCILIATION_ALERTS
from billing.models import ReconciliationReport
from billing.periods import SEOUL
from billing.quotas import observed_total
from dos.audit import audit_record

log = structlog.get_logger(__name__)


def _metered(org_id, metric: str, day: dt.date) -> Decimal:
    start = dt.datetime.combine(day, dt.time(), tzinfo=SEOUL)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT coalesce(sum(value), 0) FROM billing_meterevent WHERE org_id = %s AND metric = %s "
            "AND ts >= %s AND ts < %s AND source <> 'api'",
            [org_id, metric, start, start + dt.timedelta(days=1)],
        )
        return cur.fetchone()[0]


def usage_reconcile(*, org_id, day: dt.date, metrics=None) -> list[ReconciliationReport]:
    """Compare, store and alert for one org and day (run in the org's scope)."""
    reports = []
    with transaction.atomic():
        for metric in metrics or METRICS:
            metered, observed = _metered(org_id, metric, day), observed_total(org_id, metric, day)
            if not metered and not observed:
                continue
            base = max(metered, observed)
            drift = (abs(metered - observed) / base * 100) if base else Decimal(0)
            alert = drift > Decimal(str(settings.USAGE_RECONCILE_ALERT_PCT))
            before = (ReconciliationReport.objects.filter(org_id=org_id, day=day, metric=metric)
                      .values_list("metered", "observed", "alert").first())
            report, _ = ReconciliationReport.objects.update_or_create(
                org_id=org_id, day=day, metric=metric,
                defaults={"metered": metered, "observed": observed, "drift_pct": round(drift, 3), "alert": alert})
            if alert and before != (metered, observed, True):
                RECONCILIATION_ALERTS.labels(metric=metric).inc()
                log.error("usage.drift_alert", org_id=str(org_id), metric=metric, day=day.isoformat(),
                          metered=str(metered), observed=str(observed), drift_pct=str(round(drift, 3)))
                audit_record(org_id=org_id, action="usage.drift_alert", actor="system:usage_reconcile",
                             target=f"usage:{metric}:{day.isoformat()}",
                             data={"metered": str(metered), "observed": str(observed), "drift_pct": str(round(drift, 3))})
            reports.append(report)
    return reports
