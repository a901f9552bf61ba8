"""The subledger books money events as balanced journals and corrects them only by reversal."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection

from billing.models import Journal
from billing.subledger import PostingRefused, SourceRef, post, reverse, trial_balance
from dos import scope
from dos.authz import PermissionRefused, system_actor
from dos.errors import FieldErrors
from dos.models import LedgerEntry
from tests.factories import acting

FINANCE = system_actor("test-finance")
NOV = dt.datetime(2026, 11, 14, 3, 0, tzinfo=dt.UTC)
DEC = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)


def invoice(number="DOS-2026-000001") -> SourceRef:
    return SourceRef(type="billing.invoice", id=str(uuid.uuid4()), label=number)


def lines_of(journal) -> dict[str, int]:
    return dict(journal.lines.values_list("account", "amount"))


def issue(org, source=None, *, net=100_000, tax=10_000, at=NOV, actor=FINANCE, **extra):
    return post("invoice.issued", org_id=org.id, source=source or invoice(), occurred_at=at, actor=actor,
                amounts={"net": net, "tax": tax, "total": net + tax, **extra})


def test_it_books_an_issued_invoice_as_receivable_against_revenue_and_vat(acme):
    with scope.org_scope(acme.id):
        journal = issue(acme)
        assert lines_of(journal) == {"ar": 110_000, "revenue": -100_000, "tax_payable": -10_000}
        assert (journal.event, journal.rule_version, journal.total, journal.period) == (
            "invoice.issued", 1, 110_000, dt.date(2026, 11, 1))
        entry = LedgerEntry.objects.get(org_id=acme.id, chain="billing", seq=journal.chain_seq)
        assert entry.action == "journal.posted"
        assert entry.data["lines"] == [["ar", 110_000], ["revenue", -100_000], ["tax_payable", -10_000]]


def test_it_books_prepaid_credits_consumed_by_an_invoice(acme):
    with scope.org_scope(acme.id):
        journal = post("invoice.issued", org_id=acme.id, source=invoice(), occurred_at=NOV, actor=FINANCE,
                       amounts={"net": 100_000, "tax": 10_000, "total": 80_000, "credits": 30_000})
        assert lines_of(journal) == {"ar": 80_000, "credits": 30_000, "revenue": -100_000, "tax_payable": -10_000}


def test_it_books_a_credit_note_as_the_mirror_of_an_issue(acme):
    with scope.org_scope(acme.id):
        note = SourceRef(type="billing.creditnote", id="7", label="DOS-CN-2026-000001")
        journal = post("credit_note.issued", org_id=acme.id, source=note, occurred_at=NOV, actor=FINANCE,
                       amounts={"net": 20_000, "tax": 2_000, "total": 22_000})
        assert lines_of(journal) == {"revenue": 20_000, "tax_payable": 2_000, "ar": -22_000}


def test_it_books_a_source_once_per_event(acme):
    source = invoice()
    with scope.org_scope(acme.id):
        first = issue(acme, source)
        assert issue(acme, source).pk == first.pk
        with pytest.raises(PostingRefused) as refused:
            issue(acme, source, net=90_000, tax=9_000)
        assert refused.value.code == "journal_exists"
        assert Journal.objects.count() == 1


def test_it_refuses_amounts_that_do_not_balance_before_writing_anything(acme):
    with scope.org_scope(acme.id):
        with pytest.raises(PostingRefused) as refused:
            post("invoice.issued", org_id=acme.id, source=invoice(), occurred_at=NOV, actor=FINANCE,
                 amounts={"net": 100_000, "tax": 10_000, "total": 110_001})
        assert (refused.value.code, refused.value.status) == ("unbalanced_posting", 422)
        assert not Journal.objects.exists()


@pytest.mark.parametrize(("event", "amounts", "field"), [
    ("invoice.paid_twice", {"net": 1, "tax": 0, "total": 1}, "event"),
    ("invoice.issued", {"net": 1, "tax": 0, "total": 1, "discount": 1}, "amounts"),
    ("invoice.issued", {"net": -1, "tax": 0, "total": -1}, "net"),
    ("invoice.issued", {"net": 1.5, "tax": 0, "total": 1.5}, "net"),
])
def test_it_names_the_field_of_a_posting_it_cannot_book(acme, event, amounts, field):
    with scope.org_scope(acme.id):
        with pytest.raises(FieldErrors) as refused:
            post(event, org_id=acme.id, source=invoice(), occurred_at=NOV, actor=FINANCE, amounts=amounts)
        assert field in refused.value.errors


def test_it_refuses_people_without_billing_manage(acme, alice):
    with scope.org_scope(acme.id):
        with pytest.raises(PermissionRefused) as refused:
            post("invoice.issued", org_id=acme.id, source=invoice(), occurred_at=NOV,
                 actor=acting(alice, {"billing.read"}), amounts={"net": 1, "tax": 0, "total": 1})
        assert refused.value.permission == "billing.manage"


def test_an_orgs_own_billing_admin_reads_but_never_books_the_platforms_journals(acme, alice):
    billing_admin = acting(alice, {"billing.read", "billing.manage"})
    with scope.org_scope(acme.id):
        journal = issue(acme)
        for attempt in (lambda: issue(acme, actor=billing_admin),
                        lambda: reverse(journal, actor=billing_admin, reason="we disagree")):
            with pytest.raises(PermissionRefused) as refused:
                attempt()
            assert refused.value.code == "platform_only"


def test_a_reversal_negates_every_line_in_its_own_period_once(acme):
    with scope.org_scope(acme.id):
        original = issue(acme)
        reversal = reverse(original, actor=FINANCE, reason="Invoice voided: wrong customer", occurred_at=DEC)
        assert lines_of(reversal) == {"ar": -110_000, "revenue": 100_000, "tax_payable": 10_000}
        assert (reversal.reverses_id, reversal.period, reversal.source_id) == (
            original.pk, dt.date(2026, 12, 1), original.source_id)
        with pytest.raises(PostingRefused) as again:
            reverse(original, actor=FINANCE, reason="twice", occurred_at=DEC)
        assert again.value.code == "journal_already_reversed"
        with pytest.raises(PostingRefused) as back:
            reverse(reversal, actor=FINANCE, reason="undo the undo", occurred_at=DEC)
        assert back.value.code == "reversal_not_reversible"
        assert LedgerEntry.objects.filter(org_id=acme.id, chain="audit", action="billing.journal.reversed").exists()


def test_a_reversal_needs_a_reason_and_is_never_booked_before_its_journal(acme):
    with scope.org_scope(acme.id):
        original = issue(acme)
        with pytest.raises(FieldErrors) as no_reason:
            reverse(original, actor=FINANCE, reason="  ")
        assert "reason" in no_reason.value.errors
        reversal = reverse(original, actor=FINANCE, reason="typo", occurred_at=NOV - dt.timedelta(days=30))
        assert (reversal.occurred_at, reversal.period) == (original.occurred_at, original.period)


def test_the_trial_balance_carries_balances_forward_and_balances_each_month(acme, outsider):
    with scope.org_scope(outsider.id):
        issue(outsider, net=999_000, tax=99_900)
    with scope.org_scope(acme.id):
        first = issue(acme)
        issue(acme, net=50_000, tax=5_000, at=DEC)
        reverse(first, actor=FINANCE, reason="voided", occurred_at=DEC)
        connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")
        november, december = trial_balance(month=NOV.date(), org_id=acme.id), trial_balance(month=DEC.date())
    by_account = {row.account: row for row in december.rows}
    assert november.balanced and december.balanced
    assert (november.debit_total, november.credit_total, november.journals) == (110_000, 110_000, 1)
    assert (by_account["ar"].opening, by_account["ar"].debit, by_account["ar"].credit) == (110_000, 55_000, 110_000)
    assert by_account["revenue"].balance == 50_000 and by_account["tax_payable"].balance == 5_000
    assert (december.debit_total, december.journals) == (55_000 + 110_000, 2)
