"""Invoice drafts: the rated lines of one org's period, plus VAT, in a recomputable draft.

A draft is rebuilt whole whenever its period is rated again (late usage, a seat change during the
review window); an issued invoice is never touched (``invoice_draft_save`` returns it unchanged), so
the month close can run any number of times and always ends with the same invoices.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.invoicing.config import vat_rate
from billing.invoicing.errors import platform_finance
from billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from billing.money import round_minor
from dos.authz import action
from dos.canonical import canonical_json, sha256_hex

INVOICE_DRAFT = action("invoice.draft", "billing.manage")

VAT_CODE = "vat"


def vat_for(subtotal: int, *, exempt: bool) -> tuple[Decimal, int]:
    """(rate, VAT in won): the rate times the subtotal, rounded once per invoice, half up, to the won.
    A tax-exempt customer pays none (rate 0)."""
    rate = Decimal(0) if exempt else vat_rate()
    return rate, round_minor(Decimal(subtotal) * rate)


def draft_lines(rating, *, tax_exempt: bool) -> tuple[list[dict], int, Decimal, int]:
    """Invoice lines for a ``billing.rating.Rating``: its lines in order, then the VAT line.
    Returns (lines, subtotal, rate, tax)."""
    lines = [{"kind": r.kind, "code": r.code, "description": r.description, "quantity": Decimal(r.quantity),
              "unit": r.unit, "unit_price": None if r.unit_price is None else Decimal(r.unit_price),
              "amount": int(r.amount), "meta": r.meta} for r in rating.lines]
    subtotal = sum(line["amount"] for line in lines)
    if subtotal != rating.subtotal or subtotal < 0:
        raise ValueError(f"rated lines sum to {subtotal}, the rating says {rating.subtotal}")
    rate, tax = vat_for(subtotal, exempt=tax_exempt)
    lines.append({"kind": LineKind.TAX, "code": VAT_CODE,
                  "description": "VAT (tax-exempt)" if tax_exempt else "VAT",
                  "quantity": Decimal(subtotal), "unit": "KRW", "unit_price": rate, "amount": tax,
                  "meta": {"rate": str(rate), "base": subtotal, "rounding": "once per invoice, half up, to the won",
                           "tax_exempt": tax_exempt}})
    return lines, subtotal, rate, tax


def _digest(lines: list[dict], customer: dict, period: tuple[dt.date, dt.date]) -> str:
    return sha256_hex(canonical_json({"lines": lines, "customer": customer, "period": period}))


def invoice_draft_save(*, org_id, period_start: dt.date, period_end: dt.date, rating, customer: dict, actor,
                       subscription_ref: str = "", review_until: dt.datetime | None = None) -> Invoice:
    """Create or recompute the monthly draft of ``org_id`` for the period (``period_end`` inclusive).

    Idempotent: the same rating gives the same draft (nothing is rewritten), a different one replaces
    the lines; an invoice already issued (or settled) for the period is returned untouched. A void
    invoice does not count: after a void the month gets a new draft (its replacement)."""
    actor = platform_finance(actor, INVOICE_DRAFT)
    tax_exempt = bool(customer.get("tax_exempt"))
    lines, subtotal, rate, tax = draft_lines(rating, tax_exempt=tax_exempt)
    digest = _digest(lines, customer, (period_start, period_end))
    meta = {**rating.meta, "draft_digest": digest}
    with transaction.atomic():
        live = (Invoice.objects.select_for_update().exclude(status=InvoiceStatus.VOID)
                .filter(org_id=org_id, kind=InvoiceKind.PERIOD, period_start=period_start))
        invoice = live.first()  # a void invoice stays on record; its month is drafted again beside it
        if invoice is None:
            try:
                with transaction.atomic():
                    invoice = Invoice.objects.create(
                        org_id=org_id, kind=InvoiceKind.PERIOD, period_start=period_start, period_end=period_end,
                        issuer="", currency=rating.meta.get("currency", "KRW"), review_until=review_until)
            except IntegrityError:  # a concurrent close made it first: work on that one
                invoice = live.get()
        if invoice.status != InvoiceStatus.DRAFT or invoice.rating.get("draft_digest") == digest:
            return invoice
        invoice.lines.all().delete()
        InvoiceLine.objects.bulk_create([
            InvoiceLine(org_id=org_id, invoice=invoice, position=i, **line) for i, line in enumerate(lines, start=1)])
        invoice.period_end = period_end
        invoice.subtotal, invoice.tax_rate, invoice.tax, invoice.total = subtotal, rate, tax, subtotal + tax
        invoice.tax_exempt = tax_exempt
        invoice.customer = customer
        invoice.subscription_ref = str(subscription_ref or "")
        invoice.rating = meta
        if review_until is not None:
            invoice.review_until = review_until
        invoice.updated_at = timezone.now()
        invoice.save()
    return invoice
