"""Invoices: drafts with one VAT line, issuing (numbered, frozen, chained, booked), settling."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from billing.invoicing import (
    InvoiceIncomplete,
    InvoiceStateError,
    invoice_issue,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_void,
    vat_for,
)
from billing.models import Invoice, InvoiceLine, InvoiceStatus, Journal, LineKind
from dos import scope
from dos.authz import PermissionRefused
from dos.ledger import chain_verify
from dos.models import LedgerEntry
from tests.billing.invoicing_support import (
    ACME_PROFILE,
    ISSUED_AT,
    NOVEMBER,
    draft_for,
    finance_person,
    issued_for,
    line,
    pov_rating,
    rating_of,
)
from tests.factories import as_member

pytestmark = pytest.mark.django_db


def test_it_totals_a_pov_month_with_vat_on_its_own_line(acme):
    invoice = draft_for(acme, rating=pov_rating(calls=12_345, agents=7))
    with scope.org_scope(acme.id):
        lines = list(invoice.lines.order_by("position"))
    assert [x.amount for x in lines] == [300_000, 246_900, 20_000, 56_690]
    assert lines[-1].kind == LineKind.TAX and lines[-1].meta["base"] == 566_900
    assert (invoice.subtotal, invoice.tax, invoice.total) == (566_900, 56_690, 623_590)
    assert invoice.status == InvoiceStatus.DRAFT and invoice.number == ""


@pytest.mark.parametrize(("subtotal", "tax"), [(12_345, 1_235), (12_344, 1_234), (5, 1), (4, 0), (0, 0)])
def test_it_rounds_vat_once_per_invoice_half_up(subtotal, tax):
    assert vat_for(subtotal, exempt=False)[1] == tax
    assert vat_for(subtotal, exempt=True) == (0, 0)


def test_it_rounds_vat_on_the_subtotal_not_per_line(acme):
    # Three lines of ₩5 would be ₩0.5 VAT each (₩3 rounded per line); on the ₩15 subtotal it is ₩2.
    rating = rating_of(*(line("usage", f"usage:m{i}", "Usage", "1", "call", "5", 5) for i in range(3)))
    assert draft_for(acme, rating=rating).tax == 2


def test_a_tax_exempt_customer_pays_no_vat(acme):
    invoice = draft_for(acme, profile={**ACME_PROFILE, "tax_exempt": True})
    assert (invoice.tax, invoice.total, invoice.tax_exempt) == (0, 566_900, True)
    with scope.org_scope(acme.id):
        assert invoice.lines.get(kind=LineKind.TAX).description == "VAT (tax-exempt)"


def test_a_draft_is_recomputed_and_the_same_rating_changes_nothing(acme):
    first = draft_for(acme, rating=pov_rating(calls=100))
    with scope.org_scope(acme.id):
        line_ids = sorted(first.lines.values_list("id", flat=True))
    again = draft_for(acme, rating=pov_rating(calls=100))
    with scope.org_scope(acme.id):
        assert sorted(again.lines.values_list("id", flat=True)) == line_ids
    later = draft_for(acme, rating=pov_rating(calls=200))
    with scope.org_scope(acme.id):
        assert sorted(later.lines.values_list("id", flat=True)) != line_ids
        assert Invoice.objects.count() == 1
        assert later.pk == first.pk and later.subtotal == first.subtotal + 2_000


def test_it_issues_a_draft_with_the_next_number_and_books_it(acme):
    invoice = issued_for(acme)
    assert invoice.number == "DOS-2026-000001" and invoice.status == InvoiceStatus.ISSUED
    assert invoice.due_at.isoformat() == "2026-12-18" and invoice.seller["registration_number"] == "124-81-00998"
    second = issued_for(acme, month=NOVEMBER.replace(month=10))
    assert second.number == "DOS-2026-000002"
    with scope.org_scope(acme.id):
        journal = Journal.objects.get(source_id=str(invoice.pk), event="invoice.issued")
        assert journal.amounts == {"net": 566_900, "tax": 56_690, "total": 623_590}


def test_the_number_series_restarts_each_year(acme):
    december = issued_for(acme, now=ISSUED_AT.replace(month=12, day=31, hour=14))  # 23:00 in Seoul
    january = issued_for(acme, month=NOVEMBER.replace(month=12), now=ISSUED_AT.replace(month=12, day=31, hour=15))
    assert (december.number, january.number) == ("DOS-2026-000001", "DOS-2027-000001")


def test_its_canonical_hash_is_on_the_billing_chain_and_verify_passes(acme):
    invoice = issued_for(acme)
    with scope.org_scope(acme.id):
        entry = LedgerEntry.objects.get(chain="billing", seq=invoice.ledger_seq)
        result = chain_verify(org_id=acme.id, chain="billing")
    assert entry.action == "invoice.issued" and entry.data["content_hash"] == invoice.content_hash
    assert result.ok and result.records_checked == 2  # the invoice and its issue journal
    out = io.StringIO()
    call_command("audit", "verify", "--chain", "billing", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] and [r["records_checked"] for r in report["chains"] if r["chain"] == "billing"] == [2]


@pytest.mark.parametrize("change", [
    "UPDATE billing_invoice SET total = total + 1, subtotal = subtotal + 1",
    "UPDATE billing_invoice SET customer = '{\"name\": \"Someone else\"}'",
    "UPDATE billing_invoice SET status = 'draft'",
    "UPDATE billing_invoice SET amount_paid = total + 1",
    "DELETE FROM billing_invoice",
    "UPDATE billing_invoiceline SET amount = amount + 1",
    "DELETE FROM billing_invoiceline",
])
def test_an_issued_invoice_cannot_change(acme, change):
    issued_for(acme)
    with (scope.org_scope(acme.id), pytest.raises(DatabaseError, match="append-only"), transaction.atomic(),
          connection.cursor() as cur):
        cur.execute(change)


def test_no_line_can_be_added_to_an_issued_invoice(acme):
    invoice = issued_for(acme)
    with scope.org_scope(acme.id), pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        InvoiceLine.objects.create(org_id=acme.id, invoice=invoice, position=99, kind="base", code="x",
                                   description="x", quantity=1, unit="month", amount=1)


def test_verify_finds_an_invoice_changed_behind_the_trigger(acme):
    invoice = issued_for(acme)
    with scope.org_scope(acme.id), connection.cursor() as cur:
        # What only the table owner can do — and what the chain still shows.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("ALTER TABLE billing_invoiceline DISABLE TRIGGER billing_invoiceline_frozen")
        cur.execute("UPDATE billing_invoiceline SET amount = amount - 100000 WHERE code = 'plan:pov'")
        cur.execute("ALTER TABLE billing_invoiceline ENABLE TRIGGER billing_invoiceline_frozen")
        result = chain_verify(org_id=acme.id, chain="billing")
    assert not result.ok and result.failure == "record_mismatch"
    assert result.bad_records[0].record_id == str(invoice.pk)


def test_it_refuses_to_issue_twice_or_without_a_company_name(acme):
    invoice = issued_for(acme)
    with scope.org_scope(acme.id), pytest.raises(InvoiceStateError):
        invoice_issue(invoice=invoice, actor="system:test")
    nameless = draft_for(acme, month=NOVEMBER.replace(month=9), profile={**ACME_PROFILE, "legal_name": ""})
    with scope.org_scope(acme.id), pytest.raises(InvoiceIncomplete):
        invoice_issue(invoice=nameless, actor="system:test")


def test_an_orgs_own_billing_admin_cannot_issue_or_void(acme, olivia):
    invoice = draft_for(acme)
    with scope.org_scope(acme.id), pytest.raises(PermissionRefused, match="platform finance"):
        invoice_issue(invoice=invoice, actor=as_member(acme, olivia))


def test_platform_finance_voids_and_the_issue_journal_is_reversed(acme):
    fiona = finance_person()
    invoice = issued_for(acme, actor=fiona)
    with scope.org_scope(acme.id):
        voided = invoice_void(invoice=invoice, actor=fiona, reason="Duplicate of a manual invoice",
                              now=ISSUED_AT + dt.timedelta(days=1))
        assert voided.status == InvoiceStatus.VOID and voided.balance == 0
        journals = Journal.objects.filter(source_id=str(invoice.pk))
        assert journals.count() == 2 and sum(sum(j.lines.values_list("amount", flat=True)) for j in journals) == 0
        assert LedgerEntry.objects.filter(chain="billing", action="invoice.voided").exists()
        assert LedgerEntry.objects.filter(chain="audit", action="billing.invoice.voided").exists()
        with pytest.raises(InvoiceStateError):
            invoice_mark_paid(invoice=voided, actor=fiona, reference="transfer 1")
        assert chain_verify(org_id=acme.id, chain="billing").ok


def test_uncollectible_then_paid_settles_the_balance(acme):
    fiona = finance_person()
    invoice = issued_for(acme)
    with scope.org_scope(acme.id):
        invoice = invoice_mark_uncollectible(invoice=invoice, actor=fiona, reason="Customer in receivership")
        assert invoice.status == InvoiceStatus.UNCOLLECTIBLE
        paid = invoice_mark_paid(invoice=invoice, actor=fiona, reference="Shinhan transfer 2026-12-20")
        assert (paid.status, paid.amount_paid, paid.balance) == (InvoiceStatus.PAID, 623_590, 0)
        with pytest.raises(InvoiceStateError):
            invoice_void(invoice=paid, actor=fiona, reason="too late")
