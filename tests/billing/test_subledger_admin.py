"""The finance back office for the subledger: journals, reversal with a reason, the trial balance,
the drift report and the exports — platform finance across orgs, a tenant's billing admin in its own."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from billing.drift import invoice_drift_compute
from billing.models import InvoiceDrift, Journal, UsageMonthly
from dos import scope
from dos.authz import system_actor
from tests.billing.invoicing_support import NOVEMBER, issued_for, pov_rating
from tests.factories import UserFactory, add_member, query_count, verified_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(acme, outsider):
    """An issued November invoice in each org (journals booked by the issue), and the drift report."""
    invoices = {}
    for org, calls in ((acme, 12_345), (outsider, 777)):
        with scope.org_scope(org.id):
            UsageMonthly.objects.create(org_id=org.id, metric="decision_calls", value=Decimal(calls + 1_000),
                                        month=NOVEMBER)
        invoices[org.slug] = issued_for(org, rating=pov_rating(calls=calls))
        with scope.org_scope(org.id):
            invoice_drift_compute(org_id=org.id, month=NOVEMBER, actor=system_actor("test"))
    return invoices


def journal_of(org, invoice):
    with scope.org_scope(org.id):
        return Journal.objects.get(source_id=str(invoice.pk), event="invoice.issued")


def test_platform_finance_sees_every_orgs_journals_and_can_narrow_to_one(client, fiona, books, acme, outsider):
    c = verified_client(client, fiona)
    acme_no, outsider_no = books[acme.slug].number, books[outsider.slug].number
    page = c.get("/admin/billing/journal/").content.decode()
    assert acme_no in page and outsider_no in page
    only_acme = c.get("/admin/billing/journal/", {"org__id__exact": str(acme.id)}).content.decode()
    assert acme_no in only_acme and outsider_no not in only_acme


def test_the_billing_admin_sees_only_her_orgs_journals_and_report(client, bill, books, acme, outsider):
    c = verified_client(client, bill)
    journals = c.get("/admin/billing/journal/").content.decode()
    acme_no, outsider_no = books[acme.slug].number, books[outsider.slug].number
    assert acme_no in journals and outsider_no not in journals
    theirs = journal_of(outsider, books[outsider.slug])
    assert c.get(f"/admin/billing/journal/{theirs.pk}/change/").status_code in (302, 404)
    assert c.get(f"/admin/billing/journal/{theirs.pk}/reverse/").status_code == 404
    drift = c.get("/admin/billing/invoicedrift/").content.decode()
    assert acme_no in drift and outsider_no not in drift


def test_the_trial_balance_page_shows_a_balanced_month_in_won(client, bill, books, acme):
    page = verified_client(client, bill).get("/admin/billing/journal/trial-balance/", {"month": "2026-12"})
    text = page.content.decode()
    invoice = books[acme.slug]
    assert page.status_code == 200 and 'id="trial-balance"' in text
    assert 'data-month="2026-12" data-balanced="yes" data-journals="1"' in text
    assert f"₩{invoice.total:,}" in text and f"₩{invoice.tax:,}" in text
    assert f'data-month="2026-12" data-revenue="{invoice.subtotal}"' in text  # the revenue trend, 12 months
    assert text.count('<tr data-month="') == 12 and 'data-month="2026-01" data-revenue="0"' in text


def test_platform_finance_trial_balance_spans_orgs_unless_narrowed(client, fiona, books, acme, outsider):
    c = verified_client(client, fiona)
    both = c.get("/admin/billing/journal/trial-balance/", {"month": "2026-12"}).content.decode()
    total = books[acme.slug].total + books[outsider.slug].total
    assert 'data-month="2026-12" data-balanced="yes" data-journals="2"' in both and f"₩{total:,}" in both
    one = c.get("/admin/billing/journal/trial-balance/", {"month": "2026-12", "org": str(acme.id)}).content.decode()
    assert 'data-month="2026-12" data-balanced="yes" data-journals="1"' in one and f"₩{books[acme.slug].total:,}" in one


def test_the_trial_balance_downloads_as_csv(client, bill, books, acme):
    response = verified_client(client, bill).get("/admin/billing/journal/trial-balance/",
                                                 {"month": "2026-12", "format": "csv"})
    rows = response.content.decode().splitlines()
    assert rows[0] == "account,opening,debit,credit,closing"
    assert f"ar,0,{books[acme.slug].total},0,{books[acme.slug].total}" in rows


def test_platform_finance_reverses_a_journal_with_a_reason(client, fiona, books, acme):
    journal = journal_of(acme, books[acme.slug])
    c = verified_client(client, fiona)
    assert 'id="reverse-journal"' in c.get(f"/admin/billing/journal/{journal.pk}/change/").content.decode()
    form = c.get(f"/admin/billing/journal/{journal.pk}/reverse/").content.decode()
    assert 'id="reverse-form"' in form
    assert c.post(f"/admin/billing/journal/{journal.pk}/reverse/", {"reason": ""}).status_code == 200
    response = c.post(f"/admin/billing/journal/{journal.pk}/reverse/", {"reason": "booked twice by mistake"})
    assert response.status_code == 302
    with scope.org_scope(acme.id):
        reversal = Journal.objects.get(reverses=journal)
        assert reversal.memo.endswith("booked twice by mistake")
        assert dict(reversal.lines.values_list("account", "amount"))["ar"] == -books[acme.slug].total
    original = c.get(f"/admin/billing/journal/{journal.pk}/change/").content.decode()
    assert 'id="reversed-by"' in original and f"J-{reversal.pk}" in original and 'id="reverse-journal"' not in original
    assert 'id="reverses"' in c.get(f"/admin/billing/journal/{reversal.pk}/change/").content.decode()


@pytest.mark.parametrize("role", ["billing_admin", "auditor"])
def test_an_orgs_own_people_read_journals_but_cannot_reverse_them(client, books, acme, role):
    person = UserFactory(email=f"{role}@acme.example")
    add_member(acme, person, role)
    journal = journal_of(acme, books[acme.slug])
    c = verified_client(client, person)
    assert c.get("/admin/billing/journal/").status_code == 200
    assert 'id="reverse-journal"' not in c.get(f"/admin/billing/journal/{journal.pk}/change/").content.decode()
    assert 'id="reverse-form"' not in c.get(f"/admin/billing/journal/{journal.pk}/reverse/").content.decode()
    c.post(f"/admin/billing/journal/{journal.pk}/reverse/", {"reason": "not ours to do"})
    with scope.org_scope(acme.id):
        assert not Journal.objects.filter(reverses=journal).exists()


def test_a_reviewer_cannot_open_the_finance_pages(client, alice, books):
    c = verified_client(client, alice)
    for url in ("/admin/billing/journal/", "/admin/billing/invoicedrift/"):
        assert c.get(url).status_code == 403
    for url in ("/admin/billing/journal/trial-balance/", "/admin/billing/journal/export/"):
        assert c.get(url).status_code == 403


def test_the_drift_report_flags_the_alerts(client, bill, books):
    page = verified_client(client, bill).get("/admin/billing/invoicedrift/", {"alert__exact": "1"}).content.decode()
    assert "decision_calls" in page and "7.493 %" in page and 'class="drift-alert"' in page
    assert "13,345" in page and "12,345" in page and "13345.000000" not in page
    assert 'class="drift-ok"' not in page


def test_exports_download_the_scoped_rows_as_csv_and_xlsx(client, bill, books, acme, outsider):
    c = verified_client(client, bill)
    invoices = c.get("/admin/billing/journal/export/", {"dataset": "invoices", "format": "csv", "from": "2026-11"})
    text = invoices.content.decode("utf-8-sig")
    assert invoices["Content-Disposition"] == 'attachment; filename="invoices.csv"'
    assert books[acme.slug].number in text and books[outsider.slug].number not in text
    journals = c.get("/admin/billing/journal/export/", {"dataset": "journals", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(journals.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("journal", "org", "period") and len(rows) == 1 + 3
    assert sum(r[10] for r in rows[1:]) == sum(r[11] for r in rows[1:]) == books[acme.slug].total


def test_the_journal_export_action_downloads_the_selection(client, bill, books, acme):
    journal = journal_of(acme, books[acme.slug])
    response = verified_client(client, bill).post("/admin/billing/journal/", {
        "action": "export_csv", "_selected_action": [str(journal.pk)]})
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode("utf-8-sig").count("\r\n") == 1 + 3


@pytest.mark.parametrize("url", ["/admin/billing/journal/", "/admin/billing/invoicedrift/"])
def test_finance_changelists_run_a_constant_number_of_queries(client, bill, acme, url):
    c = verified_client(client, bill)
    query_count(c, url)
    before = query_count(c, url)
    for month in (dt.date(2026, 9, 1), dt.date(2026, 10, 1)):
        with scope.org_scope(acme.id):
            UsageMonthly.objects.create(org_id=acme.id, metric="decision_calls", value=10, month=month)
        issued_for(acme, rating=pov_rating(calls=10, period=month), month=month,
                   now=dt.datetime.combine(month.replace(day=28), dt.time(), tzinfo=dt.UTC))
        with scope.org_scope(acme.id):
            invoice_drift_compute(org_id=acme.id, month=month, actor=system_actor("test"))
    assert query_count(c, url) == before
    with scope.org_scope(acme.id):
        assert InvoiceDrift.objects.count() == 2 and Journal.objects.count() == 2


def test_the_finance_pages_speak_korean(client, bill, books):
    c = verified_client(client, bill)
    page = c.get("/admin/billing/journal/trial-balance/", {"month": "2026-12"}).content.decode()
    assert "시산표" in page and "대차 일치: 분개 1건" in page and "매출채권" in page and "부가세 예수금" in page
    assert "허용 오차: 1.0 %" in c.get("/admin/billing/invoicedrift/").content.decode()


def test_platform_finance_recomputes_drift_after_a_fix_and_the_alert_clears(client, fiona, bill, books, acme):
    with scope.org_scope(acme.id):
        row = InvoiceDrift.objects.get(org_id=acme.id, metric="decision_calls")
        assert row.alert
        UsageMonthly.objects.filter(org_id=acme.id).update(value=Decimal(12_345))  # the rollup corrected
    action = {"action": "recompute_selected", "_selected_action": [str(row.pk)]}
    denied = verified_client(client, bill).post("/admin/billing/invoicedrift/", {**action, "confirmed": "yes"})
    assert denied.status_code in (200, 302)
    with scope.org_scope(acme.id):
        assert InvoiceDrift.objects.get(pk=row.pk).alert  # an org's own billing admin cannot recompute
    c = verified_client(client, fiona)
    confirm = c.post("/admin/billing/invoicedrift/", action).content.decode()
    assert 'id="confirm-form"' in confirm
    c.post("/admin/billing/invoicedrift/", {**action, "confirmed": "yes"})
    with scope.org_scope(acme.id):
        row = InvoiceDrift.objects.get(org_id=acme.id, metric="decision_calls")
    assert (row.metered, row.invoiced, row.alert) == (Decimal(12_345), Decimal(12_345), False)
