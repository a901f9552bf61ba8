"""Issuing an invoice, and what may happen to it afterwards: paid, void or uncollectible.

``invoice_issue`` is one transaction: lock the draft, check it adds up, freeze the seller and the
dates, take the next number of the issuer's yearly series, hash the canonical JSON onto the org's
``billing`` chain, book ``invoice.issued`` in the subledger, apply carried credit notes, tell the
subscription (credits and coupons consumed) and write the audit entry. After COMMIT the database
refuses any change to the invoice's content or lines (migration 0006).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from billing import subledger, subscriptions
from billing.invoicing.config import issuer, payment_terms
from billing.invoicing.documents import document_hash, invoice_document
from billing.invoicing.errors import InvoiceIncomplete, InvoiceStateError, platform_finance
from billing.invoicing.numbering import number_take
from billing.invoicing.release import usage_release
from billing.models import (
    CreditApplication,
    CreditNote,
    CreditNoteStatus,
    Invoice,
    InvoiceStatus,
    Journal,
    LineKind,
    SeriesKind,
)
from billing.periods import seoul_day
from dos.audit import actor_label, audit_record
from dos.authz import action
from dos.errors import field_error
from dos.ledger import ledger_append

INVOICE_ISSUE = action("invoice.issue", "billing.manage")
INVOICE_VOID = action("invoice.void", "billing.manage")
INVOICE_UNCOLLECTIBLE = action("invoice.uncollectible", "billing.manage")
INVOICE_PAID = action("invoice.paid", "billing.manage")

def _locked(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().get(org_id=invoice.org_id, pk=invoice.pk)


def _refuse_state(invoice: Invoice, doing: str, allowed: tuple[str, ...]):
    return InvoiceStateError(f"{invoice} is {invoice.get_status_display().lower()}; it cannot be {doing}.",
                             allowed=list(allowed), current=invoice.status)


def invoice_issue(*, invoice: Invoice, actor, now: dt.datetime | None = None) -> Invoice:
    """Number, freeze and chain a draft. Refuses (409) anything but a draft, (422) a draft whose lines
    do not add up or whose customer has no company name."""
    actor = platform_finance(actor, INVOICE_ISSUE)
    now = now or timezone.now()
    with transaction.atomic():
        invoice = _locked(invoice)
        if invoice.status != InvoiceStatus.DRAFT:
            raise _refuse_state(invoice, "issued again", ())
        lines = list(invoice.lines.order_by("position"))
        charged = sum(line.amount for line in lines if line.kind != LineKind.TAX)
        taxed = sum(line.amount for line in lines if line.kind == LineKind.TAX)
        if not lines or charged != invoice.subtotal or taxed != invoice.tax or invoice.total != charged + taxed:
            raise InvoiceIncomplete(f"The lines of {invoice} do not add up to its totals; recompute the draft.")
        if not (invoice.customer or {}).get("legal_name"):
            raise InvoiceIncomplete("The billing account has no company name; complete it before issuing.",
                                    errors={"customer": ["A company name is required on an invoice."]})
        seller = issuer()
        invoice.seller, invoice.issuer = seller, seller["code"]
        invoice.issued_at, invoice.due_at = now, seoul_day(now) + payment_terms()
        invoice.number = number_take(issuer=invoice.issuer, kind=SeriesKind.INVOICE, year=seoul_day(now).year)
        invoice.content_hash = document_hash(invoice_document(invoice, lines))
        appended = ledger_append(
            chain="billing", org_id=invoice.org_id, action="invoice.issued", actor=actor_label(actor),
            target=f"invoice:{invoice.pk}",
            data={"number": invoice.number, "content_hash": invoice.content_hash, "subtotal": invoice.subtotal,
                  "tax": invoice.tax, "total": invoice.total, "currency": invoice.currency,
                  "period": invoice.period_start.isoformat()})
        invoice.ledger_seq, invoice.status, invoice.updated_at = appended.seq, InvoiceStatus.ISSUED, now
        invoice.save()
        credits = -sum(line.amount for line in lines if line.kind == LineKind.CREDIT)
        subledger.post("invoice.issued", org_id=invoice.org_id, source=invoice, occurred_at=now, actor=actor,
                       amounts={"net": invoice.subtotal + credits, "tax": invoice.tax, "total": invoice.total,
                                **({"credits": credits} if credits else {})},
                       memo=f"{invoice.number} {invoice.period_start:%Y-%m}")
        _apply_carried_credits(invoice, now=now)
        subscriptions.on_invoice_issued(invoice, actor=actor)  # prepaid credit and coupon periods used
        audit_record(org_id=invoice.org_id, action="billing.invoice.issued", actor=actor,
                     target=f"invoice:{invoice.pk}", data={"number": invoice.number, "total": invoice.total})
    return invoice


def _apply_carried_credits(invoice: Invoice, *, now: dt.datetime) -> None:
    """Credit notes carried forward reduce what this invoice leaves owing (not its taxable amount:
    each note reversed its own VAT when it was issued), oldest first, while they fit."""
    room = invoice.total - invoice.amount_credited
    carried = (CreditNote.objects.select_for_update()
               .filter(org_id=invoice.org_id, status=CreditNoteStatus.ISSUED, application=CreditApplication.CARRIED,
                       carried_to__isnull=True).order_by("issued_at", "id"))
    used = 0
    for note in carried:
        if note.total > room - used:
            continue
        note.carried_to = invoice
        note.save(update_fields=["carried_to"])
        used += note.total
        ledger_append(chain="billing", org_id=invoice.org_id, action="credit_note.carried", actor="system:billing",
                      target=f"credit_note:{note.pk}", data={"credit_note": note.number, "invoice": invoice.number,
                                                             "amount": note.total})
    if used:
        invoice.amount_credited += used
        if invoice.amount_credited + invoice.amount_paid >= invoice.total:
            invoice.status, invoice.settled_at = InvoiceStatus.PAID, now
        invoice.save(update_fields=["amount_credited", "status", "settled_at"])


def _settle(invoice: Invoice, *, actor, action_name: str, status: str, reason: str, allowed_from: tuple[str, ...],
            doing: str, now: dt.datetime, data: dict | None = None) -> Invoice:
    if invoice.status not in allowed_from:
        raise _refuse_state(invoice, doing, allowed_from)
    invoice.status, invoice.settled_at, invoice.settle_reason, invoice.updated_at = status, now, reason, now
    invoice.save(update_fields=["status", "settled_at", "settle_reason", "updated_at", "amount_paid"])
    payload = {"number": invoice.number, "reason": reason, **(data or {})}
    ledger_append(chain="billing", org_id=invoice.org_id, action=action_name, actor=actor_label(actor),
                  target=f"invoice:{invoice.pk}", data=payload)
    audit_record(org_id=invoice.org_id, action=f"billing.{action_name}", actor=actor, target=f"invoice:{invoice.pk}",
                 data=payload)
    return invoice


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise field_error("reason", "Say why; the reason is kept on the billing chain.")
    return reason[:500]


def invoice_void(*, invoice: Invoice, actor, reason: str, now: dt.datetime | None = None) -> Invoice:
    """Cancel an issued invoice nothing was credited or paid against (otherwise credit it): its number
    stays used, the issue journal is reversed.

    A credit note that stands against the invoice refuses the void: an issued one (applied, or
    carried to a later invoice — it is a legal document of its own and its journal stands) means the
    invoice is corrected by crediting the rest, and one awaiting its second person is rejected first.
    Voiding never takes a credit note down with it. The prepaid credit and coupon periods the invoice
    used are given back (``release.usage_release``) and its month may be invoiced again: the next
    close of the month drafts the replacement (``billing.close.invoice_void_and_redraft`` does both)."""
    actor = platform_finance(actor, INVOICE_VOID)
    reason, now = _reason(reason), now or timezone.now()
    with transaction.atomic():
        invoice = _locked(invoice)
        if invoice.amount_credited or invoice.amount_paid:
            raise InvoiceStateError(f"{invoice} has credits or payments against it; issue a credit note instead.",
                                    allowed=[], current=invoice.status)
        _refuse_standing_credit_notes(invoice)
        invoice = _settle(invoice, actor=actor, action_name="invoice.voided", status=InvoiceStatus.VOID, reason=reason,
                          allowed_from=(InvoiceStatus.ISSUED,), doing="voided", now=now)
        journal = Journal.objects.filter(
            org_id=invoice.org_id, event="invoice.issued", source_type=invoice._meta.label_lower,
            source_id=str(invoice.pk), reverses__isnull=True).first()
        if journal is not None:
            subledger.reverse(journal, actor=actor, reason=f"{invoice.number} voided: {reason}", occurred_at=now)
        usage_release(invoice, actor=actor)  # its credit and coupon periods serve the replacement invoice
    return invoice


def _refuse_standing_credit_notes(invoice: Invoice) -> None:
    notes = list(CreditNote.objects.select_for_update().filter(
        org_id=invoice.org_id, invoice=invoice,
        status__in=(CreditNoteStatus.ISSUED, CreditNoteStatus.PENDING_APPROVAL)).order_by("created_at"))
    pending = [note for note in notes if note.status == CreditNoteStatus.PENDING_APPROVAL]
    if pending:
        raise InvoiceStateError(f"{invoice} has a credit note awaiting its second person; reject it before voiding "
                                "the invoice.", allowed=[], current=invoice.status, credit_notes=[str(n.pk) for n in pending])
    if notes:
        raise InvoiceStateError(f"{invoice} has credit note {notes[0].number} against it; credit the rest of the "
                                "invoice instead of voiding it.", allowed=[], current=invoice.status,
                                credit_notes=[n.number for n in notes])


def invoice_mark_uncollectible(*, invoice: Invoice, actor, reason: str, now: dt.datetime | None = None) -> Invoice:
    actor = platform_finance(actor, INVOICE_UNCOLLECTIBLE)
    reason, now = _reason(reason), now or timezone.now()
    with transaction.atomic():
        invoice = _settle(_locked(invoice), actor=actor, action_name="invoice.uncollectible",
                          status=InvoiceStatus.UNCOLLECTIBLE, reason=reason, allowed_from=(InvoiceStatus.ISSUED,),
                          doing="written off", now=now)
        # What is still owed leaves receivables for bad debts (invoice.written_off).
        subledger.write_off(org_id=invoice.org_id, source=invoice, occurred_at=now, actor=actor,
                            open_balance=invoice.total - invoice.amount_credited - invoice.amount_paid,
                            memo=f"{invoice.number}: {reason}")
    return invoice


def _write_off_reverse(invoice: Invoice, *, actor, now: dt.datetime, reference: str) -> None:
    """A written-off invoice paid after all: the write-off is reversed (receivable restored) before
    the payment clears it, so bad debts keep only what was never paid."""
    ref = subledger.source_ref(invoice)
    booked = subledger.Journal.objects.filter(org_id=invoice.org_id, event="invoice.written_off",
                                              source_type=ref.type, source_id=ref.id,
                                              reverses__isnull=True, reversals__isnull=True).first()
    if booked is not None:
        subledger.reverse(booked, actor=actor, occurred_at=now,
                          reason=f"{invoice.number} paid after the write-off ({reference})")


def invoice_mark_paid(*, invoice: Invoice, actor, reference: str, now: dt.datetime | None = None) -> Invoice:
    """Record a bank transfer that settles the invoice's balance (payment adapters come later and
    will call the same booking)."""
    actor = platform_finance(actor, INVOICE_PAID)
    reference, now = _reason(reference), now or timezone.now()
    with transaction.atomic():
        locked = _locked(invoice)
        amount = locked.balance
        if locked.status == InvoiceStatus.UNCOLLECTIBLE:
            _write_off_reverse(locked, actor=actor, now=now, reference=reference)
        if locked.status in (InvoiceStatus.ISSUED, InvoiceStatus.UNCOLLECTIBLE):
            locked.amount_paid += amount
        invoice = _settle(locked, actor=actor, action_name="invoice.paid", status=InvoiceStatus.PAID,
                          reason=reference, allowed_from=(InvoiceStatus.ISSUED, InvoiceStatus.UNCOLLECTIBLE),
                          doing="marked paid", now=now, data={"amount": amount})
        if amount:
            subledger.post("payment.received", org_id=invoice.org_id, source=invoice, occurred_at=now, actor=actor,
                           amounts={"cash": amount, "amount": amount}, memo=f"{invoice.number}: {reference}")
    return invoice
