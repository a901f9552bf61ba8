"""Invoices, their lines, credit notes and the issuer's legal number series.

An invoice is a *draft* while its period is open or under review: the month close may recompute it
(its lines are replaced whole). Issuing numbers it, freezes it (a database trigger refuses any change
to an issued invoice's content and to its lines) and hashes its canonical JSON onto the org's
``billing`` chain. Afterwards only its settlement moves: paid, void or uncollectible, and the amounts
credited or paid against it. Credit notes follow the same rules with their own series.

Amounts are whole won (KRW has no minor unit): ``BigIntegerField``. Quantities and unit prices may
be fractional and are exact decimals. See docs/decisions/0013-invoices-and-credit-notes.md.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dos.citus import TenantForeignKey
from dos.rls import TenantModel


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ISSUED = "issued", _("Issued")
    PAID = "paid", _("Paid")
    VOID = "void", _("Void")
    UNCOLLECTIBLE = "uncollectible", _("Uncollectible")


class InvoiceKind(models.TextChoices):
    PERIOD = "period", _("Monthly invoice")
    MANUAL = "manual", _("One-off invoice")


class LineKind(models.TextChoices):
    BASE = "base", _("Plan")
    USAGE = "usage", _("Usage")
    SEAT = "seat", _("Seats")
    MINIMUM = "minimum", _("Minimum commitment")
    DISCOUNT = "discount", _("Discount")
    CREDIT = "credit", _("Credit")
    CREDIT_NOTE = "credit_note", _("Credit note carried forward")
    TAX = "tax", _("VAT")


class CreditNoteStatus(models.TextChoices):
    DRAFT = "draft", _("Being written")
    PENDING_APPROVAL = "pending_approval", _("Awaiting a second approver")
    ISSUED = "issued", _("Issued")
    REJECTED = "rejected", _("Rejected")


class CreditApplication(models.TextChoices):
    APPLIED = "applied", _("Applied to the invoice balance")
    CARRIED = "carried", _("Carried to the next invoice")


class SeriesKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")


class DocumentSeries(models.Model):
    """The last number an issuer handed out in one legal series and year (``DOS-2026-000123``).

    One row per (issuer, kind, year), spanning every org: the series must be gapless for the tax
    office, so issuing is serialised on this row on purpose (the row lock is held until the issuing
    transaction ends, and a rolled-back issue rolls its number back). A reference table under the
    sharding plan (dos/citus.py, ADR 0013)."""

    pk = models.CompositePrimaryKey("issuer", "kind", "year")
    issuer = models.CharField(max_length=16, help_text="The issuing entity's series prefix, e.g. DOS.")
    kind = models.CharField(max_length=16, choices=SeriesKind.choices)
    year = models.PositiveSmallIntegerField(help_text="Calendar year of issue (Asia/Seoul).")
    value = models.BigIntegerField(default=0, help_text="The last number handed out.")

    class Meta:
        verbose_name = _("document number series")
        verbose_name_plural = _("document number series")

    def __str__(self) -> str:
        return f"{self.issuer} {self.kind} {self.year}: {self.value}"


class Invoice(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=InvoiceKind.choices, default=InvoiceKind.PERIOD)
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    issuer = models.CharField(max_length=16, help_text="Series prefix of the issuing entity.")
    number = models.CharField(max_length=32, blank=True, default="", help_text="Set when issued: DOS-2026-000123.")
    currency = models.CharField(max_length=3, default="KRW")
    period_start = models.DateField(help_text="First day of the billed period (Asia/Seoul).")
    period_end = models.DateField(help_text="Last day of the billed period (Asia/Seoul), inclusive.")
    subscription_ref = models.CharField(max_length=64, blank=True, default="",
                                        help_text="The subscription rated into this invoice.")
    subtotal = models.BigIntegerField(default=0, help_text="Won, before VAT.")
    tax_rate = models.DecimalField(max_digits=5, decimal_places=4, default=0)
    tax = models.BigIntegerField(default=0, help_text="Won: VAT rounded once per invoice, half up.")
    total = models.BigIntegerField(default=0, help_text="Won, VAT included.")
    tax_exempt = models.BooleanField(default=False)
    amount_credited = models.BigIntegerField(default=0, help_text="Won credited against it by credit notes.")
    amount_paid = models.BigIntegerField(default=0, help_text="Won received against it.")
    customer = models.JSONField(default=dict, blank=True,
                                help_text="Billed party as printed: company name, registration number, contact surname.")
    seller = models.JSONField(default=dict, blank=True, help_text="Issuing entity as printed.")
    rating = models.JSONField(default=dict, blank=True, help_text="How the lines were computed (price version, inputs).")
    review_until = models.DateTimeField(null=True, blank=True,
                                        help_text="A draft is issued automatically once this has passed.")
    issued_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, default="",
                                    help_text="sha256 of the canonical JSON chained on the billing chain.")
    ledger_seq = models.BigIntegerField(null=True, blank=True, help_text="Its entry on the org's billing chain.")
    settled_at = models.DateTimeField(null=True, blank=True, help_text="When it became paid, void or uncollectible.")
    settle_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_start", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["org", "number"], condition=~models.Q(number=""),
                                    name="invoice_org_number_uniq"),
            # The month close finds (or makes) exactly one live monthly invoice per org and period; a
            # void one stays on record beside its replacement.
            models.UniqueConstraint(fields=["org", "period_start"],
                                    condition=models.Q(kind="period") & ~models.Q(status="void"),
                                    name="invoice_org_period_uniq"),
            models.CheckConstraint(condition=models.Q(status="draft") | ~models.Q(number=""),
                                   name="invoice_issued_has_number"),
            models.CheckConstraint(condition=models.Q(total=models.F("subtotal") + models.F("tax")),
                                   name="invoice_total_is_subtotal_plus_tax"),
        ]
        indexes = [
            models.Index(fields=["org", "status", "period_start"], name="invoice_org_status_idx"),
            models.Index(fields=["org", "review_until"], condition=models.Q(status="draft"),
                         name="invoice_org_review_idx"),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {self.period_start:%Y-%m}"

    @property
    def balance(self) -> int:
        """Won still owed: total less credited and paid (void and uncollectible owe nothing more)."""
        if self.status in (InvoiceStatus.VOID, InvoiceStatus.DRAFT):
            return 0
        return max(self.total - self.amount_credited - self.amount_paid, 0)


class InvoiceLine(TenantModel):
    id = models.BigAutoField(primary_key=True)
    invoice = TenantForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines", db_index=False)
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=LineKind.choices)
    code = models.CharField(max_length=64)
    description = models.CharField(max_length=200, help_text="English source; printed through gettext.")
    quantity = models.DecimalField(max_digits=24, decimal_places=6)
    unit = models.CharField(max_length=32)
    unit_price = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    amount = models.BigIntegerField(help_text="Won, this line rounded once (half up).")
    meta = models.JSONField(default=dict, blank=True, help_text="How the line was computed.")

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["org", "invoice", "position"], name="invoiceline_position_uniq")]

    def __str__(self) -> str:
        return f"{self.code} {self.amount}"


class CreditNote(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invoice = TenantForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes", db_index=False)
    status = models.CharField(max_length=20, choices=CreditNoteStatus.choices)
    application = models.CharField(max_length=16, choices=CreditApplication.choices,
                                   default=CreditApplication.APPLIED)
    issuer = models.CharField(max_length=16)
    number = models.CharField(max_length=32, blank=True, default="", help_text="Set when issued: DOS-CN-2026-000007.")
    reason = models.CharField(max_length=500)
    net = models.BigIntegerField(help_text="Won credited before VAT.")
    tax = models.BigIntegerField(help_text="Won of VAT reversed, in proportion to the invoice's.")
    total = models.BigIntegerField()
    carried_to = TenantForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="carried_credits",
                                  db_index=False, help_text="The invoice that consumed a carried credit.")
    approval_ref = models.CharField(max_length=64, blank=True, default="",
                                    help_text="The four-eyes approval request, above the configured amount.")
    requested_by = models.CharField(max_length=120, help_text="Who asked for it (audit label).")
    approved_by = models.CharField(max_length=120, blank=True, default="")
    content_hash = models.CharField(max_length=64, blank=True, default="")
    ledger_seq = models.BigIntegerField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["org", "number"], condition=~models.Q(number=""),
                                    name="creditnote_org_number_uniq"),
            models.CheckConstraint(condition=models.Q(total=models.F("net") + models.F("tax")),
                                   name="creditnote_total_is_net_plus_tax"),
            models.CheckConstraint(condition=models.Q(net__gte=0, tax__gte=0), name="creditnote_not_negative"),
        ]
        indexes = [models.Index(fields=["org", "invoice"], name="creditnote_org_invoice_idx")]

    def __str__(self) -> str:
        return self.number or f"credit note ({self.get_status_display()})"


class CreditNoteLine(TenantModel):
    id = models.BigAutoField(primary_key=True)
    credit_note = TenantForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines", db_index=False)
    invoice_line = TenantForeignKey(InvoiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    db_index=False, help_text="The invoice line credited, when per line.")
    position = models.PositiveIntegerField()
    description = models.CharField(max_length=200)
    amount = models.BigIntegerField(help_text="Won credited before VAT.")

    class Meta:
        ordering = ["credit_note", "position"]
        constraints = [models.UniqueConstraint(fields=["org", "credit_note", "position"],
                                               name="creditnoteline_position_uniq")]

    def __str__(self) -> str:
        return f"{self.description} {self.amount}"
