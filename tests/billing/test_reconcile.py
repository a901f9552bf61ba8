import pytest
from django.utils import timezone

from billing.models import ReconciliationReport
from billing.periods import seoul_day
from billing.quotas import usage_observe
from billing.reconcile import usage_reconcile
from billing.services import meter_record
from dos import scope
from dos.models import LedgerEntry

pytestmark = pytest.mark.django_db


def test_matching_totals_raise_no_alert(acme):
    now = timezone.now()
    with scope.org_scope(acme.id):
        for i in range(50):
            usage_observe(org_id=acme.id, metric="decision_calls", now=now)
            meter_record(org=acme, metric="decision_calls", corr_id=f"ok-{i}", source="decide", now=now, ts=now)
        [report] = usage_reconcile(org_id=acme.id, day=seoul_day(now), metrics=["decision_calls"])
    assert (report.metered, report.observed, report.alert) == (50, 50, False)


def test_drift_above_one_percent_raises_an_alert(acme):
    now = timezone.now()
    with scope.org_scope(acme.id):
        for i in range(100):
            usage_observe(org_id=acme.id, metric="decision_calls", now=now)
            if i < 97:  # three calls were served but their meter events were lost
                meter_record(org=acme, metric="decision_calls", corr_id=f"d-{i}", source="decide", now=now, ts=now)
        [report] = usage_reconcile(org_id=acme.id, day=seoul_day(now), metrics=["decision_calls"])
        assert report.alert is True and float(report.drift_pct) == pytest.approx(3.0)
        assert LedgerEntry.objects.filter(chain="audit", action="usage.drift_alert").exists()
        assert ReconciliationReport.objects.filter(alert=True).count() == 1
