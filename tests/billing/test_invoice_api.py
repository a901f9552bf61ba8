"""Tenant API: the org's invoices (JSON and PDF), credit notes and the running month."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.credit_notes import credit_note_create
from billing.models import UsageMonthly
from billing.periods import month_of
from dos import scope
from tests.billing.invoicing_support import ISSUED_AT, NOVEMBER, draft_for, finance_person, issued_for, launch_price_book
from tests.conftest import api_client
from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing_api(acme):
    return api_client(make_key(acme, scopes=["billing.read"], name="finance export"))


@pytest.fixture
def acme_invoices(acme):
    november = issued_for(acme)
    october = issued_for(acme, month=NOVEMBER.replace(month=10))
    draft_for(acme, month=NOVEMBER.replace(month=12))  # under review: not the tenant's yet
    with scope.org_scope(acme.id):
        note = credit_note_create(invoice=november, actor="system:test", amount=100_000, reason="Outage",
                                  now=ISSUED_AT + dt.timedelta(days=1))
    return november, october, note


def test_it_lists_issued_invoices_newest_period_first(billing_api, acme_invoices, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):  # authentication and scope, then one count and one page
        body = billing_api.get("/api/v1/invoices").json()
    assert [i["number"] for i in body["results"]] == ["DOS-2026-000001", "DOS-2026-000002"]
    first = body["results"][0]
    assert (first["total"], first["tax"], first["amount_credited"], first["balance"]) == (623_590, 56_690, 110_000,
                                                                                          513_590)
    assert billing_api.get("/api/v1/invoices", {"status": "draft"}).status_code == 400


@pytest.mark.parametrize("query", ["period_to=", "period_from=", "period_from=2026-13-01", "status="])
def test_it_refuses_a_filter_outside_the_schema(billing_api, query):
    response = billing_api.get(f"/api/v1/invoices?{query}")
    assert response.status_code == 400 and query.split("=")[0] in response.json()["errors"]


def test_it_shows_one_invoice_with_its_lines_and_their_explanations(billing_api, acme_invoices):
    november = acme_invoices[0]
    body = billing_api.get(f"/api/v1/invoices/{november.id}").json()
    assert [x["code"] for x in body["lines"]] == ["plan:pov", "usage:decision_calls", "seat:agent", "vat"]
    assert body["lines"][1]["quantity"] == "12345" and body["lines"][1]["unit_price"] == "20"
    assert body["lines"][3]["meta"]["rounding"].startswith("once per invoice")
    assert body["customer"]["registration_number"] == "220-81-62517" and "contact_surname" not in body["customer"]


def test_it_serves_the_invoice_and_credit_note_pdfs(billing_api, acme_invoices):
    november, _, note = acme_invoices
    response = billing_api.get(f"/api/v1/invoices/{november.id}", {"format": "pdf"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and "DOS-2026-000001" in response["Content-Disposition"]
    assert billing_api.get(f"/api/v1/credit-notes/{note.id}", {"format": "pdf"}).content.startswith(b"%PDF")
    bad = billing_api.get(f"/api/v1/invoices/{november.id}", {"format": "docx"})
    assert bad.status_code == 400 and bad["Content-Type"].startswith("application/problem+json")


def test_it_lists_credit_notes(billing_api, acme_invoices):
    body = billing_api.get("/api/v1/credit-notes").json()
    assert [(n["number"], n["invoice_number"], n["total"]) for n in body["results"]] == [
        ("DOS-CN-2026-000001", "DOS-2026-000001", 110_000)]


def test_a_draft_under_review_is_not_found(billing_api, acme):
    draft = draft_for(acme)
    assert billing_api.get(f"/api/v1/invoices/{draft.id}").status_code == 404


def test_it_needs_billing_read(acme, acme_invoices):
    reader = api_client(make_key(acme, scopes=["usage.read"], name="usage only"))
    assert reader.get("/api/v1/invoices").status_code == 403
    assert reader.get("/api/v1/billing/upcoming").status_code == 403


def test_upcoming_rates_the_running_month_without_writing(billing_api, acme):
    from billing.seats import seats_set
    from billing.subscriptions import subscription_start

    launch_price_book()
    fiona = finance_person()
    month = month_of(dt.datetime.now(dt.UTC))
    assert billing_api.get("/api/v1/billing/upcoming").status_code == 404
    with scope.org_scope(acme.id):
        subscription_start(org_id=acme.id, plan_code="pov", actor=fiona, today=month.replace(month=month.month - 1))
        seats_set(org_id=acme.id, role="agent", quantity=5, since=month, actor=fiona, reason="contract")
        UsageMonthly.objects.create(org_id=acme.id, metric="decision_calls", month=month, value=1_000, events=1_000)
    body = billing_api.get("/api/v1/billing/upcoming").json()
    assert (body["subtotal"], body["tax"], body["total"]) == (320_000, 32_000, 352_000)
    assert body["period_start"] == month.isoformat() and body["plan"] == "pov"
    with scope.org_scope(acme.id):
        from billing.models import Invoice
        assert not Invoice.objects.exists()
