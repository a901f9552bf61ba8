"""Credit notes: full, partial, per line; capped at the balance; VAT reversed in proportion; their own
series; four eyes above the configured amount; applied or carried to the next invoice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from billing.credit_notes import credit_note_approve, credit_note_create, credit_note_reject
from billing.invoicing import CreditNoteRefused, InvoiceStateError
from billing.models import CreditNote, CreditNoteStatus, Invoice, InvoiceStatus, Journal, LineKind
from dos import scope
from dos.authz import PermissionRefused
from dos.errors import FieldErrors
from dos.ledger import chain_verify
from tenancy.approvals import FourEyesViolation
from tests.billing.invoicing_support import ISSUED_AT, NOVEMBER, finance_person, issued_for
from tests.factories import as_member

pytestmark = pytest.mark.django_db
LATER = ISSUED_AT + dt.timedelta(days=2)


@pytest.fixture
def fiona(db):
    return finance_person()


@pytest.fixture
def felix(db):
    return finance_person("felix@decisionos.example")


@pytest.fixture
def invoice(acme):
    return issued_for(acme)  # ₩566,900 + ₩56,690 VAT = ₩623,590


def _create(invoice, actor, **kwargs):
    with scope.org_scope(invoice.org_id):
        return credit_note_create(invoice=invoice, actor=actor, reason=kwargs.pop("reason", "Service outage"),
                                  now=LATER, **kwargs)


def _fresh(invoice):
    with scope.org_scope(invoice.org_id):
        return Invoice.objects.get(pk=invoice.pk)


def test_a_partial_credit_reverses_vat_in_proportion_and_lowers_the_balance(invoice, fiona):
    note = _create(invoice, fiona, amount=100_001)
    assert (note.net, note.tax, note.total) == (100_001, 10_000, 110_001)  # 56,690 × 100,001 / 566,900 = 10,000.1
    assert note.number == "DOS-CN-2026-000001" and note.status == CreditNoteStatus.ISSUED
    assert _fresh(invoice).balance == 623_590 - 110_001
    with scope.org_scope(invoice.org_id):
        assert Journal.objects.get(source_id=str(note.pk)).amounts == {"net": 100_001, "tax": 10_000, "total": 110_001}
        # the invoice, the credit note and their two journals
        assert chain_verify(org_id=invoice.org_id, chain="billing").records_checked == 4


def test_several_partial_credits_then_a_full_one_reverse_exactly_the_vat_charged(invoice, fiona):
    notes = [_create(invoice, fiona, amount=amount) for amount in (3, 3, 3)]
    notes.append(_create(invoice, fiona, full=True))
    assert sum(n.tax for n in notes) == 56_690 and sum(n.net for n in notes) == 566_900
    fresh = _fresh(invoice)
    assert fresh.balance == 0 and fresh.status == InvoiceStatus.PAID and fresh.amount_credited == 623_590
    assert [n.number for n in notes] == [f"DOS-CN-2026-00000{i}" for i in range(1, 5)]


def test_it_never_credits_more_than_the_balance(invoice, fiona):
    with pytest.raises(CreditNoteRefused) as refused:
        _create(invoice, fiona, amount=566_901)
    assert refused.value.extra["available"] == 623_590
    _create(invoice, fiona, amount=500_000)
    with pytest.raises(CreditNoteRefused):
        _create(invoice, fiona, amount=66_901)


def test_a_full_credit_of_a_part_paid_invoice_credits_what_is_still_owed(invoice, fiona):
    with scope.org_scope(invoice.org_id), connection.cursor() as cur:
        cur.execute("UPDATE billing_invoice SET amount_paid = 23590 WHERE id = %s", [invoice.pk])
    note = _create(invoice, fiona, full=True)
    assert note.total <= 600_000 and note.total >= 599_999 and _fresh(invoice).balance == 600_000 - note.total


def test_it_credits_named_lines_up_to_what_is_left_of_each(invoice, fiona):
    with scope.org_scope(invoice.org_id):
        usage = invoice.lines.get(code="usage:decision_calls")  # ₩246,900
        tax_line = invoice.lines.get(kind=LineKind.TAX)
    note = _create(invoice, fiona, lines=[{"invoice_line": usage.pk, "amount": 46_900}])
    assert (note.net, note.tax) == (46_900, 4_690)
    rest = _create(invoice, fiona, lines=[{"invoice_line": usage.pk, "amount": None}])
    assert rest.net == 200_000
    with pytest.raises(FieldErrors) as bad:
        _create(invoice, fiona, lines=[{"invoice_line": usage.pk, "amount": 1}, {"invoice_line": tax_line.pk}])
    assert set(bad.value.errors) == {"lines[0].amount", "lines[1].invoice_line"}


def test_above_the_four_eyes_amount_a_second_person_approves(invoice, fiona, felix, settings):
    settings.BILLING_CREDIT_NOTE_FOUR_EYES_ABOVE = 100_000
    note = _create(invoice, fiona, amount=200_000)
    assert note.status == CreditNoteStatus.PENDING_APPROVAL and note.number == ""
    assert _fresh(invoice).balance == 623_590  # not yet credited …
    with pytest.raises(CreditNoteRefused):
        _create(invoice, fiona, amount=400_000)  # … but it holds its part of the balance
    with scope.org_scope(invoice.org_id), pytest.raises(FourEyesViolation):
        credit_note_approve(note=note, actor=fiona, now=LATER)
    with scope.org_scope(invoice.org_id):
        issued = credit_note_approve(note=note, actor=felix, now=LATER)
    assert issued.status == CreditNoteStatus.ISSUED and issued.approved_by == f"user:{felix.user.pk}"
    assert _fresh(invoice).balance == 623_590 - 220_000


def test_a_rejected_note_releases_the_balance(invoice, fiona, felix, settings):
    settings.BILLING_CREDIT_NOTE_FOUR_EYES_ABOVE = 100_000
    note = _create(invoice, fiona, amount=200_000)
    with scope.org_scope(invoice.org_id):
        assert credit_note_reject(note=note, actor=felix, reason="Not agreed").status == CreditNoteStatus.REJECTED
    assert _create(invoice, fiona, amount=500_000, reason="Agreed settlement").status == CreditNoteStatus.PENDING_APPROVAL


def test_a_carried_credit_lowers_the_next_invoices_balance(acme, invoice, fiona):
    note = _create(invoice, fiona, amount=10_000, application="carried")
    assert _fresh(invoice).balance == 623_590  # not applied here …
    december = issued_for(acme, month=NOVEMBER.replace(month=12), now=LATER + dt.timedelta(days=30))
    assert december.amount_credited == 11_000 and december.balance == 623_590 - 11_000  # … but on the next one
    with scope.org_scope(acme.id):
        assert CreditNote.objects.get(pk=note.pk).carried_to_id == december.pk
        assert chain_verify(org_id=acme.id, chain="billing").ok


def test_an_issued_credit_note_cannot_change(invoice, fiona):
    _create(invoice, fiona, amount=1_000)
    with (scope.org_scope(invoice.org_id), pytest.raises(DatabaseError, match="append-only"), transaction.atomic(),
          connection.cursor() as cur):
        cur.execute("UPDATE billing_creditnote SET net = net + 1, total = total + 1")


def test_only_platform_finance_credits_and_only_issued_invoices(acme, olivia, fiona, invoice):
    with pytest.raises(PermissionRefused):
        _create(invoice, as_member(acme, olivia), amount=1_000)
    with scope.org_scope(acme.id):
        from billing.invoicing import invoice_void
        invoice_void(invoice=invoice, actor=fiona, reason="Wrong customer", now=LATER)
    with pytest.raises(InvoiceStateError):
        _create(invoice, fiona, amount=1_000)
