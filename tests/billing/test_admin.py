import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.rollups import usage_rollup
from billing.services import meter_record
from dos import scope
from tests.factories import verified_client

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
    c.get("/admin/billing/meterevent/")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            c.get("/admin/billing/meterevent/")
        return len(ctx.captured_queries)

    before = count()
    with scope.org_scope(acme.id):
        for i in range(10):
            meter_record(org=acme, metric="api_requests", corr_id=f"q{i}")
    assert count() == before
