"""Property: whatever sequence of invoice issues, credit notes, voids and payments finance runs
through the services, every journal sums to zero, every month's trial balance balances, and the
books agree with the documents (receivable, cash, revenue and VAT equal what the invoices, credit
notes and payments say)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from billing.credit_notes import credit_note_create
from billing.invoicing import invoice_mark_paid, invoice_void
from billing.models import CreditNote, CreditNoteStatus, Invoice, InvoiceStatus, Journal
from billing.subledger import trial_balance, unbalanced_journals
from billing.subledger.trial_balance import journal_months
from dos import scope
from dos.errors import DomainError
from tests.billing.invoicing_support import issued_for, pov_rating

pytestmark = pytest.mark.django_db

FINANCE = "system:billing.finance"
MONTHS = (dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 1))
START = dt.datetime(2026, 10, 2, 1, 0, tzinfo=dt.UTC)

ISSUE = st.tuples(st.just("issue"), st.integers(0, 2), st.integers(0, 150_000), st.integers(0, 12))
CREDIT = st.tuples(st.just("credit"), st.integers(0, 2), st.integers(1, 400_000), st.sampled_from(["applied", "carried"]))
VOID = st.tuples(st.just("void"), st.integers(0, 2))
PAY = st.tuples(st.just("pay"), st.integers(0, 2))
# A month or more of issuing first, then anything in any order (including more issues).
OPERATIONS = st.builds(lambda first, rest: first + rest, st.lists(ISSUE, min_size=1, max_size=3),
                       st.lists(st.one_of(ISSUE, CREDIT, CREDIT, VOID, PAY), max_size=8))


def run(org, operations) -> dict:
    """Apply the operations (refusals are part of the game: a credit above the balance, a void of a
    credited invoice); return what was done."""
    invoices: dict[int, Invoice] = {}
    done = {"issued": 0, "credited": 0, "voided": 0, "paid": 0}
    for day, op in enumerate(operations):
        now = START + dt.timedelta(days=3 * day)
        kind, m = op[0], op[1]
        try:
            if kind == "issue" and m not in invoices:
                invoices[m] = issued_for(org, rating=pov_rating(calls=op[2], agents=op[3], period=MONTHS[m]),
                                         month=MONTHS[m], now=max(now, START))
                done["issued"] += 1
            elif kind == "credit" and m in invoices:
                with scope.org_scope(org.id):
                    note = credit_note_create(invoice=invoices[m], actor=FINANCE, reason="goodwill", amount=op[2],
                                              application=op[3], now=now)
                done["credited"] += note.status == CreditNoteStatus.ISSUED
            elif kind == "void" and m in invoices:
                with scope.org_scope(org.id):
                    invoice_void(invoice=invoices[m], actor=FINANCE, reason="issued in error", now=now)
                done["voided"] += 1
            elif kind == "pay" and m in invoices:
                owed = invoices[m].balance
                with scope.org_scope(org.id):
                    invoice_mark_paid(invoice=invoices[m], actor=FINANCE, reference="bank transfer", now=now)
                done["paid"] += owed > 0
        except DomainError as refused:
            done.setdefault("refused", []).append(f"{kind}:{refused.code}")
        if m in invoices:
            with scope.org_scope(org.id):
                invoices[m] = Invoice.objects.get(pk=invoices[m].pk)
    return done


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(operations=OPERATIONS)
def test_every_journal_balances_and_the_books_agree_with_the_documents(acme, operations):
    with transaction.atomic():
        done = run(acme, operations)
        refused = done.pop("refused", [])
        event(f"journals: {sum(done.values())}, credited: {done['credited']}, voided: {done['voided']}, "
              f"paid: {done['paid']}")
        for code in refused:
            event(f"refused {code}")
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the COMMIT-time checks, run now
        with scope.org_scope(acme.id):
            assert unbalanced_journals(org_id=acme.id) == []
            months = journal_months(acme.id)
            reports = [trial_balance(month=month, org_id=acme.id) for month in months]
            assert all(report.balanced for report in reports), [r.as_dict() for r in reports if not r.balanced]
            assert Journal.objects.count() == sum(done.values())
            billed = Invoice.objects.exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
            notes = CreditNote.objects.filter(status=CreditNoteStatus.ISSUED)
            expected = {
                "ar": sum(i.total for i in billed) - sum(n.total for n in notes) - sum(i.amount_paid for i in billed),
                "cash": sum(i.amount_paid for i in billed),
                "revenue": -(sum(i.subtotal for i in billed) - sum(n.net for n in notes)),
                "tax_payable": -(sum(i.tax for i in billed) - sum(n.tax for n in notes)),
            }
            closing = {r.account: r.closing for r in reports[0].rows} if reports else {}
            assert {a: closing.get(a, 0) for a in expected} == expected
        transaction.set_rollback(True)
