"""Posting rules, as data (docs/decisions/0014-subledger.md).

A rule says, for one business event, which accounts are debited and credited with which part of
the amounts the caller hands over. Rules are versioned: a journal records the ``(event, version)``
it was booked with, and a change of rule is a new version with a later ``effective_from`` — never
an edit of a version journals already point at (``tests/billing/test_subledger_rules.py`` holds the
published versions fixed). The rule in force for a journal is the latest version whose
``effective_from`` is on or before the day (Asia/Seoul) the event occurred.

Parts a rule does not receive count as zero and their legs are left out, so ``invoice.issued``
without prepaid credits books three lines and with them four. A rule whose legs do not balance for
the amounts given is refused before anything is written (and the database would refuse it again at
COMMIT).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from billing.models.ledger import Account

DEBIT, CREDIT = "debit", "credit"

# Normal balance of each account: the side its balance usually sits on (how reports present it).
NORMAL_SIDE: dict[str, str] = {
    Account.AR: DEBIT,
    Account.CASH: DEBIT,
    Account.REVENUE: CREDIT,
    Account.TAX_PAYABLE: CREDIT,
    Account.REFUNDS: DEBIT,        # contra-revenue
    Account.CHARGEBACKS: DEBIT,    # contra-revenue
    Account.FEES: DEBIT,           # expense
    Account.CREDITS: CREDIT,       # prepaid balance owed to the customer (a liability)
    Account.BAD_DEBT: DEBIT,       # expense: receivables written off as uncollectible
}


@dataclass(frozen=True)
class Leg:
    account: str
    side: str    # DEBIT | CREDIT
    part: str    # the key of ``amounts`` booked on this leg


@dataclass(frozen=True)
class PostingRule:
    event: str
    version: int
    effective_from: dt.date
    legs: tuple[Leg, ...]
    description: str

    @property
    def parts(self) -> frozenset[str]:
        return frozenset(leg.part for leg in self.legs)

    def lines(self, amounts: dict[str, int]) -> list[tuple[str, int]]:
        """``(account, signed amount)`` per leg with a non-zero part; debit positive, credit negative.
        Two legs on one account are merged (a journal has one line per account and side)."""
        merged: dict[tuple[str, str], int] = {}
        for leg in self.legs:
            value = int(amounts.get(leg.part, 0))
            if value:
                merged[(leg.account, leg.side)] = merged.get((leg.account, leg.side), 0) + value
        return [(account, value if side == DEBIT else -value) for (account, side), value in merged.items() if value]


RULES: tuple[PostingRule, ...] = (
    PostingRule(
        event="invoice.issued", version=1, effective_from=dt.date(2026, 1, 1),
        description="An invoice is issued: the customer owes its total; revenue is the net before VAT; the VAT "
                    "is owed to the tax office. Prepaid credits consumed by the invoice settle part of the "
                    "revenue instead of the receivable (net + tax = total + credits).",
        legs=(Leg(Account.AR, DEBIT, "total"), Leg(Account.CREDITS, DEBIT, "credits"),
              Leg(Account.REVENUE, CREDIT, "net"), Leg(Account.TAX_PAYABLE, CREDIT, "tax")),
    ),
    PostingRule(
        event="credit_note.issued", version=1, effective_from=dt.date(2026, 1, 1),
        description="A credit note is issued: revenue and VAT are reduced by its net and VAT, and so is what "
                    "the customer owes (applied to the invoice or carried to the next one).",
        legs=(Leg(Account.REVENUE, DEBIT, "net"), Leg(Account.TAX_PAYABLE, DEBIT, "tax"),
              Leg(Account.AR, CREDIT, "total")),
    ),
    PostingRule(
        event="payment.received", version=1, effective_from=dt.date(2026, 1, 1),
        description="Money received against invoices: cash in, receivable down; the processor's fee, when "
                    "known, is an expense paid out of the gross (cash = amount - fee).",
        legs=(Leg(Account.CASH, DEBIT, "cash"), Leg(Account.FEES, DEBIT, "fee"), Leg(Account.AR, CREDIT, "amount")),
    ),
    PostingRule(
        event="invoice.written_off", version=1, effective_from=dt.date(2026, 1, 1),
        description="An invoice is written off as uncollectible: what it still leaves owing leaves the "
                    "receivable and is booked as a bad-debt expense (revenue and VAT booked at issue stand; "
                    "a later recovery is a payment, a mistaken write-off is reversed).",
        legs=(Leg(Account.BAD_DEBT, DEBIT, "amount"), Leg(Account.AR, CREDIT, "amount")),
    ),
)


class UnknownEvent(LookupError):
    pass


def rule_for(event: str, on: dt.date) -> PostingRule:
    """The version of ``event``'s rule in force on ``on`` (the latest effective on or before it)."""
    candidates = [r for r in RULES if r.event == event and r.effective_from <= on]
    if not candidates:
        raise UnknownEvent(event)
    return max(candidates, key=lambda r: r.version)


def rule_version(event: str, version: int) -> PostingRule:
    for rule in RULES:
        if (rule.event, rule.version) == (event, version):
            return rule
    raise UnknownEvent(f"{event} v{version}")


def events() -> list[str]:
    return sorted({r.event for r in RULES})
