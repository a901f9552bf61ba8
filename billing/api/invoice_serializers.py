"""Output shapes of the tenant's invoices, credit notes and upcoming charges (read-only)."""

from __future__ import annotations

from rest_framework import serializers

from billing.models import CreditApplication, CreditNoteStatus, InvoiceStatus, LineKind
from dos.api.fields import DecimalText


class InvoiceLineOut(serializers.Serializer):
    position = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=LineKind.choices)
    code = serializers.CharField()
    description = serializers.CharField()
    quantity = DecimalText(help_text="Exact decimal string.")
    unit = serializers.CharField()
    unit_price = DecimalText(allow_null=True, help_text="Won per unit, exact decimal string; null for reductions.")
    amount = serializers.IntegerField(help_text="Won, rounded once (half up).")
    meta = serializers.DictField(help_text="How the line was computed: tiers crossed, proration days, ids.")


class PartyOut(serializers.Serializer):
    legal_name = serializers.CharField(required=False, default="")
    registration_number = serializers.CharField(required=False, default="")
    address = serializers.CharField(required=False, default="")


class InvoiceOut(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=InvoiceStatus.choices)
    currency = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Inclusive.")
    issued_at = serializers.DateTimeField()
    due_at = serializers.DateField()
    subtotal = serializers.IntegerField(help_text="Won before VAT.")
    tax = serializers.IntegerField(help_text="Won of VAT (10 %, once per invoice, half up; 0 when tax-exempt).")
    total = serializers.IntegerField()
    tax_exempt = serializers.BooleanField()
    amount_credited = serializers.IntegerField()
    amount_paid = serializers.IntegerField()
    balance = serializers.IntegerField(help_text="Won still owed.")
    content_hash = serializers.CharField(help_text="sha256 of the canonical JSON chained on the billing chain.")


class InvoiceDetailOut(InvoiceOut):
    customer = PartyOut()
    lines = InvoiceLineOut(many=True)


class CreditNoteOut(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=CreditNoteStatus.choices)
    invoice_id = serializers.UUIDField()
    invoice_number = serializers.CharField(source="invoice.number")
    application = serializers.ChoiceField(choices=CreditApplication.choices)
    reason = serializers.CharField()
    net = serializers.IntegerField()
    tax = serializers.IntegerField(help_text="VAT reversed in proportion to the invoice's.")
    total = serializers.IntegerField()
    issued_at = serializers.DateTimeField()


class UpcomingLineOut(serializers.Serializer):
    kind = serializers.CharField()
    code = serializers.CharField()
    description = serializers.CharField()
    quantity = DecimalText()
    unit = serializers.CharField()
    unit_price = DecimalText(allow_null=True)
    amount = serializers.IntegerField()
    meta = serializers.DictField()


class UpcomingOut(serializers.Serializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Inclusive; the period is still running.")
    as_of = serializers.DateTimeField(help_text="Usage counted up to the last rollup.")
    plan = serializers.CharField(allow_null=True)
    lines = UpcomingLineOut(many=True)
    subtotal = serializers.IntegerField()
    tax = serializers.IntegerField()
    total = serializers.IntegerField(help_text="Estimate: the invoice is rated again when the month closes.")
