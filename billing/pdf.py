"""Invoice and credit-note PDFs (WeasyPrint, Korean font), in Korean with English beneath.

What is printed comes from the stored document only (the frozen seller and customer snapshots, the
lines, the totals), so an issued invoice renders the same today and in five years. The only personal
data on it is the contact's surname; everything else is about the two companies.
"""

from __future__ import annotations

import datetime as dt

from django.template.loader import render_to_string
from django.utils import translation

from billing.invoicing.config import issuer
from billing.models import CreditNote, Invoice, InvoiceStatus, LineKind
from billing.money import format_price, format_won
from billing.periods import SEOUL

KIND_KO = {LineKind.BASE: "기본료", LineKind.USAGE: "사용량", LineKind.SEAT: "추가 좌석", LineKind.MINIMUM: "최소 약정 보전",
           LineKind.DISCOUNT: "할인", LineKind.CREDIT: "선불 크레딧 차감", LineKind.CREDIT_NOTE: "이월 대변",
           LineKind.TAX: "부가가치세"}
STATUS_KO = {"draft": "초안 (발행 전)", "issued": "발행", "paid": "결제 완료", "void": "무효", "uncollectible": "회수 불능"}


def _date_ko(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        value = value.astimezone(SEOUL).date()
    return f"{value.year}년 {value.month}월 {value.day}일"


def _quantity(value) -> str:
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{int(whole):,}" + (f".{frac}" if frac else "")


def invoice_context(invoice: Invoice) -> dict:
    lines = list(invoice.lines.order_by("position"))
    charged = [x for x in lines if x.kind != LineKind.TAX]
    seller = invoice.seller or issuer()
    notes = list(invoice.credit_notes.filter(status="issued").order_by("issued_at"))
    carried = list(invoice.carried_credits.filter(status="issued").order_by("issued_at"))
    with translation.override("en"):
        rows = [{"ko": KIND_KO.get(x.kind, x.kind), "en": translation.gettext(x.description), "code": x.code,
                 "quantity": _quantity(x.quantity), "unit": x.unit,
                 "unit_price": format_price(x.unit_price) if x.unit_price is not None else "",
                 "amount": format_won(x.amount)} for x in charged]
    balance = invoice.total - invoice.amount_credited - invoice.amount_paid
    return {
        "invoice": invoice, "seller": seller, "customer": invoice.customer or {}, "rows": rows,
        "status_ko": STATUS_KO.get(invoice.status, invoice.status), "draft": invoice.status == InvoiceStatus.DRAFT,
        "period": f"{_date_ko(invoice.period_start)} ~ {_date_ko(invoice.period_end)}",
        "issued": _date_ko(invoice.issued_at), "due": _date_ko(invoice.due_at),
        "subtotal": format_won(invoice.subtotal), "tax": format_won(invoice.tax), "total": format_won(invoice.total),
        "tax_rate": f"{invoice.tax_rate * 100:.0f}%", "credited": format_won(invoice.amount_credited),
        "paid": format_won(invoice.amount_paid), "balance": format_won(max(balance, 0)),
        "credit_notes": [{"number": n.number, "total": format_won(n.total)} for n in notes],
        "carried": [{"number": n.number, "total": format_won(n.total)} for n in carried],
    }


def invoice_pdf(invoice: Invoice) -> bytes:
    from weasyprint import HTML

    return HTML(string=render_to_string("billing/invoice_pdf.html", invoice_context(invoice))).write_pdf()


def credit_note_pdf(note: CreditNote) -> bytes:
    from weasyprint import HTML

    invoice = note.invoice
    context = {
        "note": note, "invoice": invoice, "seller": invoice.seller or issuer(), "customer": invoice.customer or {},
        "issued": _date_ko(note.issued_at), "net": format_won(note.net), "tax": format_won(note.tax),
        "total": format_won(note.total),
        "lines": [{"description": x.description, "amount": format_won(x.amount)} for x in note.lines.order_by("position")],
        "application_ko": "다음 청구서에 이월" if note.application == "carried" else "해당 청구서 잔액에서 차감",
    }
    return HTML(string=render_to_string("billing/credit_note_pdf.html", context)).write_pdf()
