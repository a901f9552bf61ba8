"""Calls denied or refused for want of consent are free, so they are not observed usage either: the
daily reconciliation of metered vs observed decision calls stays level (no false drift alert)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from billing.models import MeterEvent
from billing.periods import seoul_day
from billing.quotas import observed_total
from billing.reconcile import usage_reconcile
from dos import scope
from tests.decisions.test_decide_api import BASE
from tests.privacy.test_pep import (
    decide,
    grant,
    lender,  # noqa: F401 (the fixture)
    mode,
)

pytestmark = pytest.mark.django_db


def reconcile(org):
    today = seoul_day(timezone.now())
    with scope.org_scope(org.id):
        [report] = usage_reconcile(org_id=org.id, day=today, metrics=["decision_calls"])
        metered = MeterEvent.objects.filter(metric="decision_calls").count()
    return report, metered, observed_total(org.id, "decision_calls", today)


def test_consent_denied_and_refused_calls_are_not_observed_and_reconciliation_stays_level(lender, acme):  # noqa: F811
    mode(acme, "deny")
    grant(acme, subject="lead-ok")
    assert decide(lender, subject="lead-ok").status_code == 200  # evaluated and metered
    for n in range(3):
        denied = decide(lender, subject=f"lead-{n}")
        assert denied.json()["reason_codes"][0]["code"] == "CONSENT_MISSING"
    batch = [{"subject_id": s, "purpose": "loan_screening", "input": BASE} for s in ("lead-ok", "lead-x", "lead-y")]
    assert lender.post("/api/v1/decide/batch", {"items": batch}, format="json").json()["decided"] == 3
    mode(acme, "refuse")
    assert decide(lender, subject="lead-9").status_code == 403
    refused = lender.post("/api/v1/decide/batch", {"items": batch}, format="json").json()
    assert [r.get("code") for r in refused["results"]] == [None, "consent_missing", "consent_missing"]
    report, metered, observed = reconcile(acme)
    assert metered == 3 and observed == 3  # lead-ok once alone, twice in batches
    assert (report.metered, report.observed, report.alert) == (3, 3, False)
