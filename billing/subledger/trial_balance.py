"""The month-end trial balance: per account, the balance brought forward, the month's debits and
credits and the closing balance. Because every journal sums to zero (enforced by the database),
the month's debits equal its credits and the balances of all accounts together are zero; the
report says so, and says which accounts it covered, rather than assuming it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, Sum

from billing.models.ledger import Account, Journal, JournalLine
from billing.subledger.rules import DEBIT, NORMAL_SIDE


@dataclass(frozen=True)
class TrialBalanceRow:
    account: str
    label: str
    normal_side: str
    opening: int     # signed: debit positive
    debit: int       # the month's debits (≥ 0)
    credit: int      # the month's credits (≥ 0)

    @property
    def closing(self) -> int:
        return self.opening + self.debit - self.credit

    @property
    def closing_debit(self) -> int:
        return max(self.closing, 0)

    @property
    def closing_credit(self) -> int:
        return max(-self.closing, 0)

    @property
    def balance(self) -> int:
        """The closing balance read on the account's normal side (revenue shows positive)."""
        return self.closing if self.normal_side == DEBIT else -self.closing


@dataclass(frozen=True)
class TrialBalance:
    month: dt.date
    org_id: object | None
    rows: tuple[TrialBalanceRow, ...]
    journals: int

    @property
    def debit_total(self) -> int:
        return sum(r.debit for r in self.rows)

    @property
    def credit_total(self) -> int:
        return sum(r.credit for r in self.rows)

    @property
    def closing_debit_total(self) -> int:
        return sum(r.closing_debit for r in self.rows)

    @property
    def closing_credit_total(self) -> int:
        return sum(r.closing_credit for r in self.rows)

    @property
    def balanced(self) -> bool:
        return (self.debit_total == self.credit_total
                and self.closing_debit_total == self.closing_credit_total
                and sum(r.opening for r in self.rows) == 0)

    def as_dict(self) -> dict:
        return {
            "month": self.month.isoformat(), "org_id": str(self.org_id) if self.org_id else None,
            "journals": self.journals, "balanced": self.balanced,
            "debit_total": self.debit_total, "credit_total": self.credit_total,
            "accounts": [{"account": r.account, "opening": r.opening, "debit": r.debit, "credit": r.credit,
                          "closing": r.closing} for r in self.rows],
        }


def trial_balance(*, month: dt.date, org_id=None) -> TrialBalance:
    """The trial balance of ``month`` (first day, Asia/Seoul) for one org, or for every org visible in
    the current scope when ``org_id`` is None (platform finance). Two queries whatever the volume."""
    month = month.replace(day=1)
    lines = JournalLine.objects.filter(journal__period__lte=month)
    journals = Journal.objects.filter(period=month)
    if org_id is not None:
        lines, journals = lines.filter(org_id=org_id), journals.filter(org_id=org_id)
    sums = {row["account"]: row for row in lines.values("account").annotate(
        opening=Sum("amount", filter=Q(journal__period__lt=month), default=0),
        debit=Sum("amount", filter=Q(journal__period=month, amount__gt=0), default=0),
        credit=Sum("amount", filter=Q(journal__period=month, amount__lt=0), default=0),
    ).order_by()}
    rows = tuple(
        TrialBalanceRow(account=account.value, label=str(account.label), normal_side=NORMAL_SIDE[account.value],
                        opening=int(sums.get(account.value, {}).get("opening", 0)),
                        debit=int(sums.get(account.value, {}).get("debit", 0)),
                        credit=-int(sums.get(account.value, {}).get("credit", 0)))
        for account in Account)
    return TrialBalance(month=month, org_id=org_id, rows=rows, journals=journals.count())


def journal_months(org_id=None) -> list[dt.date]:
    """Months with journals, newest first (the trial balance page's month picker)."""
    qs = Journal.objects.all()
    if org_id is not None:
        qs = qs.filter(org_id=org_id)
    return list(qs.order_by("-period").values_list("period", flat=True).distinct())


def unbalanced_journals(*, month: dt.date | None = None, org_id=None) -> list[int]:
    """Ids of journals whose lines do not sum to zero — always empty while the database trigger
    stands; the report runs it so a disabled trigger would not go unnoticed."""
    qs = Journal.objects.all()
    if month is not None:
        qs = qs.filter(period=month.replace(day=1))
    if org_id is not None:
        qs = qs.filter(org_id=org_id)
    return list(qs.annotate(net=Sum("lines__amount", default=0)).exclude(net=0).values_list("pk", flat=True))


def monthly_revenue(*, until: dt.date, months: int = 12, org_id=None) -> list[dict]:
    """Revenue and VAT booked per month (net of credit notes and reversals), the ``months`` months up
    to ``until``, oldest first — the trend beside the trial balance. One query."""
    until = until.replace(day=1)
    first = until
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    lines = JournalLine.objects.filter(journal__period__gte=first, journal__period__lte=until,
                                       account__in=[Account.REVENUE, Account.TAX_PAYABLE])
    if org_id is not None:
        lines = lines.filter(org_id=org_id)
    sums = {(row["journal__period"], row["account"]): -int(row["total"]) for row in
            lines.values("journal__period", "account").annotate(total=Sum("amount")).order_by()}
    series, month = [], first
    while month <= until:
        series.append({"month": month, "revenue": sums.get((month, Account.REVENUE), 0),
                       "vat": sums.get((month, Account.TAX_PAYABLE), 0)})
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return series
