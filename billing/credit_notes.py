"""Credit notes: full, partial or per line, against an issued invoice, never more than its balance.

VAT is reversed in proportion to the invoice's: after every note, the VAT reversed so far is the
invoice's VAT × (net credited so far ÷ invoice subtotal), rounded half up to the won — so a full
credit, in one note or in several, reverses exactly the VAT that was charged. A note is *applied*
(it lowers the invoice's balance now) or *carried* (it lowers the next invoice's balance when that
one is issued). When the invoice's credit notes — issued, awaiting approval and this one — add
up to more than ``BILLING_CREDIT_NOTE_FOUR_EYES_ABOVE`` won, a second person must approve it (so a
credit split into small notes needs one all the same), through the approvals choke point
(``tenancy.approvals``); until then it reserves the balance. Only a person requests such a note,
never ``system:dosctl``.
Credit notes have their own gapless series (``DOS-CN-2026-000007``) and are chained like invoices.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing import subledger
from billing.invoicing.config import credit_note_four_eyes_above
from billing.invoicing.documents import credit_note_document, document_hash
from billing.invoicing.errors import CreditNoteRefused, InvoiceStateError, platform_finance
from billing.invoicing.numbering import number_take
from billing.models import (
    CreditApplication,
    CreditNote,
    CreditNoteLine,
    CreditNoteStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    SeriesKind,
)
from billing.money import format_won, round_minor
from billing.periods import seoul_day
from dos.audit import actor_label, audit_record
from dos.authz import action
from dos.errors import FieldErrors, field_error
from dos.ledger import ledger_append
from tenancy.approvals import approval_grant, approval_reject, approval_require
from tenancy.models import ApprovalRequest, Org

CREDIT_NOTE_CREATE = action("credit_note.create", "billing.manage")
CREDIT_NOTE_DECIDE = action("credit_note.decide", "billing.manage")
APPROVAL_ACTION = "billing.credit_note"  # the two-person action of tenancy.approvals

# Notes that hold part of the invoice's balance: issued ones and those awaiting their second person.
_HOLDING = (CreditNoteStatus.ISSUED, CreditNoteStatus.PENDING_APPROVAL)


def _credited(invoice: Invoice) -> tuple[int, int, int]:
    """(net, tax, total) of the notes that hold part of the invoice's balance."""
    sums = CreditNote.objects.filter(org_id=invoice.org_id, invoice=invoice, status__in=_HOLDING).aggregate(
        net=Sum("net"), tax=Sum("tax"), total=Sum("total"))
    return sums["net"] or 0, sums["tax"] or 0, sums["total"] or 0


def vat_reversed(invoice: Invoice, *, net_before: int, tax_before: int, net: int) -> int:
    """The VAT this note reverses: proportional to the invoice's, cumulative over its notes."""
    if invoice.subtotal <= 0 or invoice.tax == 0:
        return 0
    cumulative = round_minor(Decimal(invoice.tax) * Decimal(net_before + net) / Decimal(invoice.subtotal))
    return min(cumulative, invoice.tax) - tax_before


def _available(invoice: Invoice) -> int:
    """Won that may still be credited: the balance less what pending notes hold (issued and
    applied notes are in ``amount_credited`` already; carried ones are not, so count them)."""
    pending_or_carried = CreditNote.objects.filter(org_id=invoice.org_id, invoice=invoice).filter(
        status=CreditNoteStatus.PENDING_APPROVAL).aggregate(total=Sum("total"))["total"] or 0
    pending_or_carried += CreditNote.objects.filter(
        org_id=invoice.org_id, invoice=invoice, status=CreditNoteStatus.ISSUED,
        application=CreditApplication.CARRIED).aggregate(total=Sum("total"))["total"] or 0
    owing = invoice.total - invoice.amount_credited - invoice.amount_paid
    return max(owing - pending_or_carried, 0)


def _line_amounts(invoice: Invoice, lines: list[dict]) -> list[tuple[InvoiceLine, int, str]]:
    by_id = {line.pk: line for line in invoice.lines.exclude(kind=LineKind.TAX)}
    credited = dict(CreditNoteLine.objects.filter(
        org_id=invoice.org_id, invoice_line__in=list(by_id), credit_note__status__in=_HOLDING)
        .values("invoice_line").annotate(total=Sum("amount")).values_list("invoice_line", "total"))
    out, errors = [], {}
    for i, item in enumerate(lines):
        line = by_id.get(item.get("invoice_line"))
        amount = item.get("amount")
        if line is None:
            errors[f"lines[{i}].invoice_line"] = ["No such charged line on this invoice."]
            continue
        left = line.amount - credited.get(line.pk, 0)
        amount = left if amount is None else amount
        if not isinstance(amount, int) or amount <= 0 or amount > left:
            errors[f"lines[{i}].amount"] = [f"Between ₩1 and {format_won(left)} (what is left of this line)."]
            continue
        out.append((line, amount, line.description))
    if errors or not out:
        raise FieldErrors(errors or {"lines": ["Name at least one line to credit."]})
    return out


def _full_net(invoice: Invoice, net_before: int, tax_before: int, available: int) -> int:
    net = invoice.subtotal - net_before
    while net > 0 and net + vat_reversed(invoice, net_before=net_before, tax_before=tax_before, net=net) > available:
        # Part of it was paid: credit what is still owed (one step per won of rounding, after a close guess).
        guess = available * invoice.subtotal // max(invoice.total, 1)
        net = guess if guess < net else net - 1
    return net


def credit_note_create(*, invoice: Invoice, actor, reason: str, amount: int | None = None,
                       lines: list[dict] | None = None, full: bool = False,
                       application: str = CreditApplication.APPLIED, now: dt.datetime | None = None) -> CreditNote:
    """Credit an issued invoice: ``full=True``, a net ``amount`` (won before VAT) or ``lines``
    (``[{"invoice_line": id, "amount": won or None for the rest of the line}]``)."""
    actor = platform_finance(actor, CREDIT_NOTE_CREATE)
    now = now or timezone.now()
    reason = (reason or "").strip()[:500]
    if not reason:
        raise field_error("reason", "Say why the invoice is credited; the reason is printed on the credit note.")
    if sum((full, amount is not None, bool(lines))) != 1:
        raise FieldErrors({"amount": ["Give exactly one of: full, amount, lines."]})
    if application not in CreditApplication.values:
        raise field_error("application", f"One of {', '.join(CreditApplication.values)}.")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(org_id=invoice.org_id, pk=invoice.pk)
        if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.UNCOLLECTIBLE):
            raise InvoiceStateError(f"{invoice} is {invoice.get_status_display().lower()}; only an issued invoice "
                                    "with a balance can be credited.", allowed=[], current=invoice.status)
        net_before, tax_before, credited_total = _credited(invoice)
        available = _available(invoice)
        credit_lines = _line_amounts(invoice, lines) if lines else []
        if full:
            net = _full_net(invoice, net_before, tax_before, available)
        elif lines:
            net = sum(a for _, a, _ in credit_lines)
        else:
            net = amount
        if not isinstance(net, int) or net <= 0:
            raise CreditNoteRefused("Nothing is left to credit on this invoice.", errors={"amount": [
                "A credit note credits at least ₩1."]})
        tax = vat_reversed(invoice, net_before=net_before, tax_before=tax_before, net=net)
        if net + tax > available:
            raise CreditNoteRefused(
                f"At most {format_won(available)} (VAT included) can still be credited on {invoice.number}.",
                errors={"amount": [f"Exceeds the invoice's balance of {format_won(available)}."]}, available=available)
        note = CreditNote.objects.create(
            org_id=invoice.org_id, invoice=invoice, status=CreditNoteStatus.DRAFT, application=application,
            issuer=invoice.issuer, reason=reason, net=net, tax=tax, total=net + tax, requested_by=actor_label(actor),
            created_at=now)
        if not credit_lines:
            credit_lines = [(None, net, "Full credit" if full else "Partial credit")]
        CreditNoteLine.objects.bulk_create([
            CreditNoteLine(org_id=invoice.org_id, credit_note=note, invoice_line=line, position=i, description=text,
                           amount=value) for i, (line, value, text) in enumerate(credit_lines, start=1)])
        credited_in_all = credited_total + note.total
        if credited_in_all > credit_note_four_eyes_above():
            requester = getattr(actor, "user", None)
            if requester is None:
                limit = format_won(credit_note_four_eyes_above())
                raise CreditNoteRefused(
                    f"{invoice.number} would be credited {format_won(credited_in_all)} in all, above {limit}: a "
                    "person requests this credit note in the back office and a second person approves it.",
                    code="four_eyes", errors={"amount": [f"Credits above {limit} on one invoice need a second "
                                                         "person."]}, credited=credited_in_all)
            request = approval_require(org=Org.objects.get(pk=invoice.org_id), action=APPROVAL_ACTION,
                                       target=f"credit_note:{note.pk}", requested_by=requester, reason=reason,
                                       payload={"invoice": invoice.number, "total": note.total,
                                                "credited_in_all": credited_in_all})
            note.status, note.approval_ref = CreditNoteStatus.PENDING_APPROVAL, str(request.pk)
            note.save(update_fields=["status", "approval_ref"])
            audit_record(org_id=invoice.org_id, action="billing.credit_note.requested", actor=actor,
                         target=f"credit_note:{note.pk}", data={"invoice": invoice.number, "total": note.total})
            return note
        return _issue(note, invoice=invoice, actor=actor, now=now)


def _issue(note: CreditNote, *, invoice: Invoice, actor, now: dt.datetime, approved_by: str = "") -> CreditNote:
    note.approved_by = approved_by
    note.issued_at = now
    note.number = number_take(issuer=note.issuer, kind=SeriesKind.CREDIT_NOTE, year=seoul_day(now).year)
    note.invoice = invoice
    note.content_hash = document_hash(credit_note_document(note, list(note.lines.all())))
    appended = ledger_append(chain="billing", org_id=note.org_id, action="credit_note.issued",
                             actor=actor_label(actor), target=f"credit_note:{note.pk}",
                             data={"number": note.number, "invoice": invoice.number, "content_hash": note.content_hash,
                                   "net": note.net, "tax": note.tax, "total": note.total,
                                   "application": note.application})
    note.ledger_seq, note.status = appended.seq, CreditNoteStatus.ISSUED
    note.save()
    if note.application == CreditApplication.APPLIED:
        invoice.amount_credited += note.total
        if invoice.amount_credited + invoice.amount_paid >= invoice.total:
            invoice.status, invoice.settled_at = InvoiceStatus.PAID, now
            invoice.settle_reason = "Settled by credit notes."
        invoice.updated_at = now
        invoice.save(update_fields=["amount_credited", "status", "settled_at", "settle_reason", "updated_at"])
    subledger.post("credit_note.issued", org_id=note.org_id, source=note, occurred_at=now, actor=actor,
                   amounts={"net": note.net, "tax": note.tax, "total": note.total},
                   memo=f"{note.number} against {invoice.number}")
    audit_record(org_id=note.org_id, action="billing.credit_note.issued", actor=actor, target=f"credit_note:{note.pk}",
                 data={"number": note.number, "invoice": invoice.number, "total": note.total})
    return note


def _pending(note: CreditNote) -> tuple[CreditNote, Invoice, ApprovalRequest]:
    note = CreditNote.objects.select_for_update().get(org_id=note.org_id, pk=note.pk)
    if note.status != CreditNoteStatus.PENDING_APPROVAL:
        raise InvoiceStateError(f"This credit note is {note.get_status_display().lower()}.", allowed=[],
                                current=note.status)
    invoice = Invoice.objects.select_for_update().get(org_id=note.org_id, pk=note.invoice_id)
    return note, invoice, ApprovalRequest.objects.get(org_id=note.org_id, pk=note.approval_ref)


def credit_note_approve(*, note: CreditNote, actor, now: dt.datetime | None = None) -> CreditNote:
    """The second person approves (never the requester: ``approval_grant`` enforces it) and the note
    is issued in the same transaction, if the invoice can still bear it."""
    actor = platform_finance(actor, CREDIT_NOTE_DECIDE)
    now = now or timezone.now()
    with transaction.atomic():
        note, invoice, request = _pending(note)
        approval_grant(request=request, actor=actor, reason="credit note approved")
        owing = invoice.total - invoice.amount_credited - invoice.amount_paid
        if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.UNCOLLECTIBLE) or note.total > owing:
            raise CreditNoteRefused(f"{invoice.number} can no longer bear this credit note; reject it.")
        return _issue(note, invoice=invoice, actor=actor, now=now, approved_by=actor_label(actor))


def credit_note_reject(*, note: CreditNote, actor, reason: str = "") -> CreditNote:
    actor = platform_finance(actor, CREDIT_NOTE_DECIDE)
    with transaction.atomic():
        note, _invoice, request = _pending(note)
        approval_reject(request=request, actor=actor, reason=reason or "credit note rejected")
        note.status, note.approved_by = CreditNoteStatus.REJECTED, actor_label(actor)
        note.save(update_fields=["status", "approved_by"])
        audit_record(org_id=note.org_id, action="billing.credit_note.rejected", actor=actor,
                     target=f"credit_note:{note.pk}", data={"reason": reason})
    return note
