"""The double-entry subledger (docs/decisions/0014-subledger.md).

A ``Journal`` is one booking of one business event (an invoice issued, a credit note issued, a
reversal); its ``JournalLine`` rows carry signed won amounts — debit positive, credit negative — so
"every journal sums to zero" is literally ``SUM(amount) = 0``. The database refuses, at COMMIT, a
journal whose lines do not sum to zero or that has fewer than two lines (a deferred constraint
trigger), and refuses every UPDATE and DELETE on both tables: a mistake is corrected by a reversal
journal, never by an edit. ``InvoiceDrift`` is the month-end comparison of metered usage with the
quantities invoiced for it.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dos.citus import TenantForeignKey
from dos.rls import TenantModel


class Account(models.TextChoices):
    """The chart of accounts of the subledger. Normal balances live with the posting rules."""

    AR = "ar", _("Accounts receivable")
    CASH = "cash", _("Cash")
    REVENUE = "revenue", _("Revenue")
    TAX_PAYABLE = "tax_payable", _("VAT payable")
    REFUNDS = "refunds", _("Refunds")
    CHARGEBACKS = "chargebacks", _("Chargebacks")
    FEES = "fees", _("Payment fees")
    CREDITS = "credits", _("Prepaid credits")
    BAD_DEBT = "bad_debt", _("Bad debts")


class Journal(TenantModel):
    id = models.BigAutoField(primary_key=True)
    event = models.CharField(_("event"), max_length=48, help_text=_("The posting rule applied, e.g. invoice.issued."))
    rule_version = models.PositiveSmallIntegerField(_("rule version"))
    source_type = models.CharField(_("source type"), max_length=48)
    source_id = models.CharField(_("source id"), max_length=64)
    source_label = models.CharField(_("source"), max_length=64, blank=True,
                                    help_text=_("What people call the source, e.g. the invoice number."))
    occurred_at = models.DateTimeField(_("occurred at"))
    period = models.DateField(_("period"), help_text=_("First day of the Asia/Seoul month the journal is booked in."))
    amounts = models.JSONField(_("amounts"), default=dict, help_text=_("The parts the posting rule was given (won)."))
    total = models.BigIntegerField(_("total"), help_text=_("Sum of the debits (won)."))
    reverses = TenantForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals",
                                db_index=False, verbose_name=_("reverses"))
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    actor = models.CharField(_("actor"), max_length=120)
    corr_id = models.CharField(max_length=64, blank=True)
    chain_seq = models.BigIntegerField(_("billing chain entry"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("journal")
        verbose_name_plural = _("journals")
        constraints = [
            # A source is booked once per event; a second booking is a reversal plus a new source.
            models.UniqueConstraint(fields=["org", "event", "source_type", "source_id"],
                                    condition=models.Q(reverses__isnull=True), name="journal_source_event_uniq"),
            models.UniqueConstraint(fields=["org", "reverses"], condition=models.Q(reverses__isnull=False),
                                    name="journal_reversed_once"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="journal_total_not_negative"),
        ]
        indexes = [
            models.Index(fields=["org", "period"], name="journal_org_period_idx"),
            models.Index(fields=["org", "source_type", "source_id"], name="journal_org_source_idx"),
        ]

    def __str__(self) -> str:
        return f"J-{self.pk} {self.event} {self.source_label or self.source_id}"

    @property
    def is_reversal(self) -> bool:
        return self.reverses_id is not None


class JournalLine(TenantModel):
    id = models.BigAutoField(primary_key=True)
    journal = TenantForeignKey(Journal, on_delete=models.PROTECT, related_name="lines", db_index=False,
                               verbose_name=_("journal"))
    account = models.CharField(_("account"), max_length=16, choices=Account.choices)
    amount = models.BigIntegerField(_("amount"), help_text=_("Won; debit positive, credit negative."))

    class Meta:
        ordering = ["id"]
        verbose_name = _("journal line")
        verbose_name_plural = _("journal lines")
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="journalline_amount_not_zero"),
            models.CheckConstraint(condition=models.Q(account__in=Account.values), name="journalline_account_known"),
        ]
        indexes = [models.Index(fields=["org", "journal"], name="journalline_org_journal_idx")]

    def __str__(self) -> str:
        return f"{self.account} {self.amount:+d}"

    @property
    def debit(self) -> int:
        return self.amount if self.amount > 0 else 0

    @property
    def credit(self) -> int:
        return -self.amount if self.amount < 0 else 0


class InvoiceDrift(TenantModel):
    """Usage rolled up for a month vs the quantity invoiced for it, per org and metric."""

    month = models.DateField(_("month"))
    metric = models.CharField(_("metric"), max_length=32)
    metered = models.DecimalField(_("metered"), max_digits=28, decimal_places=6)
    invoiced = models.DecimalField(_("invoiced"), max_digits=28, decimal_places=6)
    drift_pct = models.DecimalField(_("drift %"), max_digits=9, decimal_places=3)
    alert = models.BooleanField(_("alert"), default=False)
    invoices = models.JSONField(_("invoices"), default=list, blank=True)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        ordering = ["-month", "metric"]
        verbose_name = _("usage ↔ invoice drift")
        verbose_name_plural = _("usage ↔ invoice drift")
        constraints = [models.UniqueConstraint(fields=["org", "month", "metric"], name="invoicedrift_org_month_uniq")]

    def __str__(self) -> str:
        return f"{self.metric} {self.month:%Y-%m}: {self.drift_pct}%"
