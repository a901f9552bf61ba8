"""An invoice written off as uncollectible leaves the receivable: Dr bad debts / Cr receivable for
what it still leaves owing (posting rule ``invoice.written_off``), so receivables are not overstated
and each month's trial balance still balances."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from billing.models import Account
from billing.subledger import reverse, trial_balance, write_off
from billing.subledger.rules import NORMAL_SIDE, rule_for
from dos import scope
from dos.errors import FieldErrors
from tests.billing.test_subledger import DEC, FINANCE, NOV, invoice, issue, lines_of

pytestmark = pytest.mark.django_db


def test_the_write_off_rule_moves_the_open_balance_from_receivable_to_bad_debts():
    rule = rule_for("invoice.written_off", dt.date(2026, 12, 1))
    assert dict(rule.lines({"amount": 80_000})) == {"bad_debt": 80_000, "ar": -80_000}
    assert NORMAL_SIDE[Account.BAD_DEBT] == "debit"


def test_writing_off_an_invoice_clears_its_receivable_and_the_month_balances(acme):
    source = invoice()
    with scope.org_scope(acme.id):
        issue(acme, source)  # 110,000 owed
        journal = write_off(org_id=acme.id, source=source, open_balance=110_000, occurred_at=DEC, actor=FINANCE,
                            memo="customer insolvent")
        again = write_off(org_id=acme.id, source=source, open_balance=110_000, occurred_at=DEC, actor=FINANCE)
        assert again.pk == journal.pk  # booked once
        assert lines_of(journal) == {"bad_debt": 110_000, "ar": -110_000}
        assert (journal.event, journal.period) == ("invoice.written_off", dt.date(2026, 12, 1))
        connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")
        december = trial_balance(month=DEC.date(), org_id=acme.id)
    rows = {row.account: row for row in december.rows}
    assert december.balanced
    assert rows["ar"].closing == 0 and rows["bad_debt"].closing == 110_000


def test_nothing_owed_books_nothing_and_a_mistaken_write_off_is_reversed(acme):
    source = invoice()
    with scope.org_scope(acme.id):
        issue(acme, source, at=NOV)
        assert write_off(org_id=acme.id, source=invoice(), open_balance=0, occurred_at=DEC, actor=FINANCE) is None
        with pytest.raises(FieldErrors):
            write_off(org_id=acme.id, source=source, open_balance=-1, occurred_at=DEC, actor=FINANCE)
        journal = write_off(org_id=acme.id, source=source, open_balance=110_000, occurred_at=DEC, actor=FINANCE)
        reversal = reverse(journal, actor=FINANCE, reason="paid after all", occurred_at=DEC)
        assert lines_of(reversal) == {"bad_debt": -110_000, "ar": 110_000}
