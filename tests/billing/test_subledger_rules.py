"""Posting rules are data: published versions never change, each balances for the amounts its
event produces, and the version in force is chosen by the day the event occurred."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.models import Account
from billing.subledger.rules import NORMAL_SIDE, RULES, UnknownEvent, rule_for

# The published versions, as journals record them. A change to a rule is a new version with a later
# effective_from; editing one of these would silently change how existing journals read.
PUBLISHED = {
    ("invoice.issued", 1): (dt.date(2026, 1, 1), (("ar", "debit", "total"), ("credits", "debit", "credits"),
                                                  ("revenue", "credit", "net"), ("tax_payable", "credit", "tax"))),
    ("credit_note.issued", 1): (dt.date(2026, 1, 1), (("revenue", "debit", "net"), ("tax_payable", "debit", "tax"),
                                                      ("ar", "credit", "total"))),
    ("payment.received", 1): (dt.date(2026, 1, 1), (("cash", "debit", "cash"), ("fees", "debit", "fee"),
                                                    ("ar", "credit", "amount"))),
    ("invoice.written_off", 1): (dt.date(2026, 1, 1), (("bad_debt", "debit", "amount"), ("ar", "credit", "amount"))),
}


def test_published_rule_versions_never_change():
    current = {(r.event, r.version): (r.effective_from, tuple((leg.account, leg.side, leg.part) for leg in r.legs))
               for r in RULES}
    assert {key: current.get(key) for key in PUBLISHED} == PUBLISHED


def test_every_rule_names_known_accounts_once_per_event_and_version():
    assert len({(r.event, r.version) for r in RULES}) == len(RULES)
    assert {leg.account for r in RULES for leg in r.legs} <= set(Account.values) == set(NORMAL_SIDE)


WON = st.integers(min_value=0, max_value=10**12)


@given(net=WON, tax=WON, credits=WON)
def test_an_invoice_balances_whenever_total_plus_credits_is_net_plus_tax(net, tax, credits):
    total = net + tax - credits
    lines = rule_for("invoice.issued", dt.date(2026, 11, 1)).lines(
        {"net": net, "tax": tax, "total": max(total, 0), "credits": credits})
    assert (sum(amount for _, amount in lines) == 0) is (total >= 0)


@given(net=WON, tax=WON)
def test_a_credit_note_is_the_mirror_of_an_invoice_without_credits(net, tax):
    amounts = {"net": net, "tax": tax, "total": net + tax}
    issued = dict(rule_for("invoice.issued", dt.date(2026, 11, 1)).lines(amounts))
    credited = dict(rule_for("credit_note.issued", dt.date(2026, 11, 1)).lines(amounts))
    assert credited == {account: -amount for account, amount in issued.items()}


@given(amount=WON, fee=WON)
def test_a_payment_balances_when_cash_is_the_amount_less_the_fee(amount, fee):
    lines = rule_for("payment.received", dt.date(2026, 11, 1)).lines(
        {"amount": amount + fee, "fee": fee, "cash": amount})
    assert sum(value for _, value in lines) == 0


def test_zero_parts_book_no_line():
    lines = rule_for("invoice.issued", dt.date(2026, 11, 1)).lines({"net": 100, "tax": 0, "total": 100})
    assert lines == [("ar", 100), ("revenue", -100)]


def test_the_version_in_force_is_chosen_by_the_day(monkeypatch):
    from billing.subledger import rules

    later = rules.PostingRule(event="invoice.issued", version=2, effective_from=dt.date(2027, 1, 1),
                              legs=RULES[0].legs, description="a later version")
    monkeypatch.setattr(rules, "RULES", (*RULES, later))
    assert rules.rule_for("invoice.issued", dt.date(2026, 12, 31)).version == 1
    assert rules.rule_for("invoice.issued", dt.date(2027, 1, 1)).version == 2
    assert rules.rule_version("invoice.issued", 1).effective_from == dt.date(2026, 1, 1)
    with pytest.raises(UnknownEvent):
        rules.rule_for("invoice.issued", dt.date(2025, 12, 31))
    with pytest.raises(UnknownEvent):
        rules.rule_version("refund.paid", 1)
