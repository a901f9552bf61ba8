"""Usage ↔ invoice drift: metered usage against the quantities the month's invoices billed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.drift import drift_pct, invoice_drift_compute, invoice_drift_run
from billing.invoicing import invoice_void
from billing.models import InvoiceDrift, MeterEvent, UsageAdjustment, UsageMonthly
from billing.subledger.metrics import INVOICE_DRIFT_ALERTS, INVOICE_DRIFT_OPEN
from dos import scope
from dos.authz import PermissionRefused, system_actor
from dos.models import LedgerEntry
from tests.billing.invoicing_support import ISSUED_AT, NOVEMBER, draft_for, issued_for, pov_rating
from tests.factories import acting

JOB = system_actor("invoice_drift")


def metered(org, value, *, metric="decision_calls", month=NOVEMBER):
    with scope.org_scope(org.id):
        UsageMonthly.objects.create(org_id=org.id, metric=metric, value=Decimal(value), month=month)


def alerts(metric="decision_calls") -> float:
    return INVOICE_DRIFT_ALERTS.labels(metric=metric)._value.get()


def drift_rows(org):
    with scope.org_scope(org.id):
        return {r.metric: r for r in InvoiceDrift.objects.filter(org_id=org.id, month=NOVEMBER)}


def compute(org):
    with scope.org_scope(org.id):
        return invoice_drift_compute(org_id=org.id, month=NOVEMBER, actor=JOB)


@pytest.mark.parametrize(("metered_calls", "invoiced_calls", "pct"), [
    (12_345, 12_345, "0.000"), (10_000, 9_901, "0.990"), (10_000, 9_900, "1.000"), (10_000, 9_899, "1.010"),
    (0, 0, "0.000"), (0, 5, "100.000"),
])
def test_drift_is_the_difference_over_the_larger_side(metered_calls, invoiced_calls, pct):
    assert drift_pct(Decimal(metered_calls), Decimal(invoiced_calls)) == Decimal(pct)


def test_an_invoice_that_billed_what_was_metered_shows_no_drift(acme):
    metered(acme, 12_345)
    issued = issued_for(acme, rating=pov_rating(calls=12_345))
    before = alerts()
    compute(acme)
    row = drift_rows(acme)["decision_calls"]
    assert (row.metered, row.invoiced, row.drift_pct, row.alert, row.invoices) == (
        Decimal(12_345), Decimal(12_345), Decimal("0.000"), False, [issued.number])
    assert alerts() == before


def test_drift_within_one_percent_is_fine_and_above_it_alerts_once(acme):
    metered(acme, 10_000)
    issued_for(acme, rating=pov_rating(calls=9_900))
    compute(acme)
    assert drift_rows(acme)["decision_calls"].alert is False  # exactly 1 % is within the tolerance
    with scope.org_scope(acme.id):
        UsageMonthly.objects.filter(org_id=acme.id).update(value=Decimal(10_250))
    before = alerts()
    compute(acme)
    compute(acme)  # a rerun finding the same figures raises nothing new
    row = drift_rows(acme)["decision_calls"]
    assert (row.drift_pct, row.alert) == (Decimal("3.415"), True)
    assert alerts() == before + 1
    with scope.org_scope(acme.id):
        [entry] = LedgerEntry.objects.filter(org_id=acme.id, chain="audit", action="billing.invoice_drift_alert")
    assert entry.target == "usage:decision_calls:2026-11" and entry.data["drift_pct"] == "3.415"


def test_late_usage_carried_onto_the_invoice_counts_as_metered(acme):
    metered(acme, 12_000)
    with scope.org_scope(acme.id):
        event = MeterEvent.objects.create(org_id=acme.id, ts=dt.datetime(2026, 10, 31, 10, tzinfo=dt.UTC),
                                          metric="decision_calls", value=345, unit="call", corr_id="late-1",
                                          idem_key="late-1")
        UsageAdjustment.objects.create(org_id=acme.id, event=event, metric="decision_calls", value=345,
                                       period=dt.date(2026, 10, 1), apply_to_month=NOVEMBER)
    issued_for(acme, rating=pov_rating(calls=12_345))
    compute(acme)
    assert drift_rows(acme)["decision_calls"].drift_pct == Decimal("0.000")


def test_drafts_and_void_invoices_bill_nothing(acme):
    metered(acme, 12_345)
    draft_for(acme)
    assert compute(acme) == [] and drift_rows(acme) == {}
    with scope.org_scope(acme.id):
        invoice = draft_for(acme)
    issued = issued_for(acme)
    compute(acme)
    assert drift_rows(acme)
    with scope.org_scope(acme.id):
        invoice_void(invoice=issued, actor="system:test", reason="issued to the wrong company", now=ISSUED_AT)
    assert compute(acme) == [] and drift_rows(acme) == {} and invoice.pk == issued.pk


def test_a_priced_metric_missing_from_the_invoice_is_full_drift(acme):
    metered(acme, 500, metric="hitl_tasks")
    issued = issued_for(acme)
    assert issued.rating["price_version_id"] == 1
    rows = {r.metric: r for r in compute(acme)}
    if "hitl_tasks" in rows:  # the version prices it: nothing billed is 100 % drift
        assert (rows["hitl_tasks"].drift_pct, rows["hitl_tasks"].alert) == (Decimal("100.000"), True)
    else:  # the plan does not bill it: not drift
        assert set(rows) == {"decision_calls"}


def test_the_monthly_run_covers_every_billed_org_in_its_own_scope(acme, outsider):
    metered(acme, 20_000)
    issued_for(acme, rating=pov_rating(calls=12_345))
    metered(outsider, 12_345)
    issued_for(outsider, rating=pov_rating(calls=12_345))
    summary = invoice_drift_run(month=dt.date(2026, 11, 17), actor=JOB)
    assert summary == {"month": "2026-11-01", "orgs": 2, "rows": 2, "alerts": 1}
    assert INVOICE_DRIFT_OPEN.labels(month="2026-11")._value.get() == 1
    assert drift_rows(acme)["decision_calls"].alert and not drift_rows(outsider)["decision_calls"].alert


def test_computing_the_report_needs_billing_manage(acme, alice):
    with scope.org_scope(acme.id), pytest.raises(PermissionRefused):
        invoice_drift_compute(org_id=acme.id, month=NOVEMBER, actor=acting(alice, {"billing.read"}))


def test_the_daily_job_reports_last_month_in_seoul(acme, monkeypatch):
    from billing import tasks

    metered(acme, 12_345)
    issued_for(acme, rating=pov_rating(calls=12_000))
    # 2026-11-30 16:00 UTC is already December 1st in Seoul: "last month" is November.
    monkeypatch.setattr(tasks.timezone, "now", lambda: dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC))
    assert tasks.invoice_drift_daily() == {"month": "2026-11-01", "orgs": 1, "rows": 1, "alerts": 1}
    assert tasks.invoice_drift_daily(month="2026-10") == {"month": "2026-10-01", "orgs": 0, "rows": 0, "alerts": 0}
