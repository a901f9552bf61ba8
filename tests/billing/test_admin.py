from datetime import timedelta

import pytest
from django.utils import timezone

from billing.periods import seoul_day
from billing.rollups import usage_rollup
from billing.services import meter_record
from dos import scope
from tests.factories import query_count, verified_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def metered(acme, outsider):
    now = timezone.now()
    for org, corr in ((acme, "acme-visible"), (outsider, "outsider-secret")):
        with scope.org_scope(org.id):
            meter_record(org=org, metric="decision_calls", value=3, corr_id=corr, now=now, ts=now)
            usage_rollup(org_id=org.id, now=now, settle_seconds=0)


def test_finance_sees_its_org_usage_with_a_chart(client, olivia, metered):
    c = verified_client(client, olivia)
    page = c.get("/admin/billing/usagedaily/").content.decode()
    assert 'id="usage-chart"' in page and "decision_calls" in page
    events = c.get("/admin/billing/meterevent/", {"q": "acme-visible"}).content.decode()
    assert "acme-visible" in events
    assert "outsider-secret" not in c.get("/admin/billing/meterevent/").content.decode()


def test_quota_status_shows_only_the_users_org(client, olivia, metered):
    page = verified_client(client, olivia).get("/admin/billing/usagedaily/quota-status/").content.decode()
    assert "Acme Lending" in page and "decision_calls_per_day" in page
    assert "Outsider Co" not in page


def test_an_outsider_sees_none_of_acmes_usage(client, mallory, metered):
    c = verified_client(client, mallory)
    assert "acme-visible" not in c.get("/admin/billing/meterevent/").content.decode()
    assert "Acme Lending" not in c.get("/admin/billing/usagedaily/quota-status/").content.decode()


def test_a_reviewer_cannot_open_usage(client, alice, metered):
    assert verified_client(client, alice).get("/admin/billing/usagedaily/").status_code == 403


def test_the_meter_event_changelist_runs_a_constant_number_of_queries(client, olivia, acme):
    c = verified_client(client, olivia)
    query_count(c, "/admin/billing/meterevent/")  # warm-up: session and caches
    before = query_count(c, "/admin/billing/meterevent/")
    with scope.org_scope(acme.id):
        for i in range(10):
            meter_record(org=acme, metric="api_requests", corr_id=f"q{i}")
    assert query_count(c, "/admin/billing/meterevent/") == before


@pytest.mark.parametrize("page", ["meterevent", "usagedaily", "usagecounter", "usageadjustment",
                                  "reconciliationreport"])
def test_every_billing_page_is_scoped_to_the_users_org(client, mallory, olivia, acme, page):
    from billing.quotas import usage_observe
    from billing.reconcile import usage_reconcile
    from billing.services import MeterInput, meter_record_many

    now = timezone.now()
    with scope.org_scope(acme.id):
        meter_record_many(org=acme, now=now, items=[
            MeterInput(metric="decision_calls", value=5, corr_id="acme-only-1", ts=now),
            MeterInput(metric="decision_calls", value=5, corr_id="acme-only-1", ts=now),  # a duplicate
            MeterInput(metric="decision_calls", value=5, corr_id="acme-old", ts=now - timedelta(days=45)),
        ])
        usage_rollup(org_id=acme.id, now=now, settle_seconds=0)
        usage_observe(org_id=acme.id, metric="decision_calls", amount=99, now=now)
        usage_reconcile(org_id=acme.id, day=seoul_day(now))
    owner_view = verified_client(client, olivia).get(f"/admin/billing/{page}/")
    assert owner_view.context_data["cl"].result_count > 0  # Acme's own page has rows …
    client.logout()
    outsider_view = verified_client(client, mallory).get(f"/admin/billing/{page}/")
    assert outsider_view.status_code == 200
    assert outsider_view.context_data["cl"].result_count == 0  # … the outsider sees none of them
