"""Outsider isolation on every billing endpoint and admin page (SPEC §5): another org's member or
key sees 404 or nothing."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from billing.credit_notes import credit_note_create
from dos import scope
from tests.billing.invoicing_support import ISSUED_AT, issued_for
from tests.conftest import api_client
from tests.factories import make_key, verified_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_billing(acme):
    invoice = issued_for(acme)
    with scope.org_scope(acme.id):
        note = credit_note_create(invoice=invoice, actor="system:test", amount=10_000, reason="Outage",
                                  now=ISSUED_AT + dt.timedelta(days=1))
    return {"invoice": invoice, "note": note}


def test_every_invoicing_endpoint_answers_404_or_nothing_for_an_outsider(acme_billing, outsider):
    spy = api_client(make_key(outsider, scopes=["billing.read", "usage.read"], name="spy"))
    w = acme_billing
    for url in (f"/api/v1/invoices/{w['invoice'].id}", f"/api/v1/invoices/{w['invoice'].id}?format=pdf",
                f"/api/v1/credit-notes/{w['note'].id}", f"/api/v1/credit-notes/{w['note'].id}?format=pdf"):
        assert spy.get(url).status_code == 404, url
    for url in ("/api/v1/invoices", "/api/v1/credit-notes"):
        response = spy.get(url)
        assert response.status_code == 200 and response.json()["results"] == [], url
    assert spy.get("/api/v1/billing/upcoming").status_code == 404  # the outsider has no subscription of its own


def test_every_invoicing_admin_page_is_empty_for_an_outsider(client, acme_billing, mallory):
    c = verified_client(client, mallory)
    for page in ("invoice", "creditnote"):
        response = c.get(f"/admin/billing/{page}/")
        assert response.status_code == 200 and response.context_data["cl"].result_count == 0, page
    invoice, note = acme_billing["invoice"], acme_billing["note"]
    assert c.get(f"/admin/billing/invoice/{invoice.pk}/change/").status_code == 302
    assert c.get(f"/admin/billing/creditnote/{note.pk}/change/").status_code == 302
    assert c.get(f"/admin/billing/invoice/{invoice.pk}/pdf/").status_code == 404


@pytest.fixture
def acme_books(acme_billing, acme):
    """Acme's journals (the issue and the credit note booked them) and its drift report."""
    from billing.drift import invoice_drift_compute
    from billing.models import UsageMonthly

    with scope.org_scope(acme.id):
        UsageMonthly.objects.create(org_id=acme.id, metric="decision_calls", value=99_999,
                                    month=acme_billing["invoice"].period_start)
        invoice_drift_compute(org_id=acme.id, month=acme_billing["invoice"].period_start, actor="system:test")
    return acme_billing


def test_every_subledger_and_report_page_is_empty_for_an_outsider(client, acme_books, acme, mallory):
    from billing.models import InvoiceDrift, Journal

    with scope.org_scope(acme.id):
        journal = Journal.objects.filter(reverses__isnull=True).first()
        assert Journal.objects.count() == 2 and InvoiceDrift.objects.filter(alert=True).exists()
    c = verified_client(client, mallory)
    for page in ("journal", "invoicedrift"):
        response = c.get(f"/admin/billing/{page}/")
        assert response.status_code == 200 and response.context_data["cl"].result_count == 0, page
    assert c.get(f"/admin/billing/journal/{journal.pk}/change/").status_code == 302
    assert c.get(f"/admin/billing/journal/{journal.pk}/reverse/").status_code == 404
    assert c.post(f"/admin/billing/journal/{journal.pk}/reverse/", {"reason": "x"}).status_code == 404
    month = f"{journal.period:%Y-%m}"
    for params in ({"month": month}, {"month": month, "org": str(acme.id)}):  # an org filter is platform-only
        page = c.get("/admin/billing/journal/trial-balance/", params).content.decode()
        assert 'data-journals="0"' in page and f"₩{acme_books['invoice'].total:,}" not in page
    for dataset in ("invoices", "journals"):  # the header row only, an org filter or not
        for params in ({}, {"org": str(acme.id)}):
            csv_rows = c.get("/admin/billing/journal/export/", {"dataset": dataset, "format": "csv", **params})
            assert csv_rows.content.decode("utf-8-sig").count("\r\n") == 1, (dataset, params)
            xlsx = c.get("/admin/billing/journal/export/", {"dataset": dataset, "format": "xlsx", **params})
            assert load_workbook(io.BytesIO(xlsx.content)).active.max_row == 1, (dataset, params)


@pytest.fixture
def acme_subscribed(acme):
    """Acme on PoV with a billing account, prepaid credit, a coupon and seat levels."""
    from billing.accounts import billing_account_update
    from billing.credits import coupon_redeem, credit_grant
    from billing.models import Coupon
    from billing.seats import seats_set
    from tests.billing.subscription_support import NOV, fiona, subscribe

    sub = subscribe(acme, "pov")
    Coupon.objects.create(code="ACME5", name="Acme", kind="fixed", amount_off=5_000)
    with scope.org_scope(acme.id):
        account = billing_account_update(org_id=acme.id, changes={"legal_name": "Acme Lending"}, actor="system:test")
        grant = credit_grant(org_id=acme.id, amount=50_000, reason="goodwill", actor=fiona())
        redemption = coupon_redeem(org_id=acme.id, code="ACME5", plan_code="pov", actor="system:test")
        level = seats_set(org_id=acme.id, role="agent", quantity=7, since=NOV, actor=fiona(), reason="contract")
    return {"subscription": sub, "billingaccount": account, "creditgrant": grant, "couponredemption": redemption,
            "seatlevel": level}


def test_the_subscription_endpoints_show_an_outsider_nothing_of_acme(acme_subscribed, outsider):
    spy = api_client(make_key(outsider, scopes=["billing.read", "billing.manage"], name="spy"))
    assert spy.get("/api/v1/billing/subscription").status_code == 404
    response = spy.post("/api/v1/billing/subscription/change", {"plan": "pro", "when": "now"}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "no_subscription"


def test_every_pricing_and_account_admin_page_is_empty_for_an_outsider(client, acme_subscribed, mallory):
    c = verified_client(client, mallory)  # the outsider's owner: billing.read and billing.manage in her own org
    for page, obj in acme_subscribed.items():
        response = c.get(f"/admin/billing/{page}/")
        assert response.status_code == 200 and response.context_data["cl"].result_count == 0, page
        assert c.get(f"/admin/billing/{page}/{obj.pk}/change/").status_code == 302, page
    # The price book is the platform's: an org's owner neither reads nor drafts it.
    from billing.models import PriceVersion

    version = PriceVersion.objects.filter(plan__code="pov").first()
    for url in ("/admin/billing/priceplan/", "/admin/billing/priceversion/", "/admin/billing/coupon/",
                "/admin/billing/priceversion/add/", f"/admin/billing/priceversion/{version.pk}/change/"):
        assert c.get(url).status_code in (302, 403, 404), url
    assert c.get(f"/admin/billing/priceversion/{version.pk}/diff/").status_code == 404
