"""The canonical JSON of an issued invoice or credit note: what is hashed onto the ``billing`` chain
and what ``dosctl audit verify --chain billing`` recomputes from the stored rows.

Decimals are written without exponent or trailing zeros (``12345``, ``0.02``), dates as ISO dates,
times in UTC; lines in position order. Everything printed on the document is in it.
"""

from __future__ import annotations

from decimal import Decimal

from dos.canonical import canonical_json, sha256_hex


def _dec(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "") else text


def invoice_document(invoice, lines) -> dict:
    return {
        "type": "invoice", "id": str(invoice.id), "org_id": str(invoice.org_id), "number": invoice.number,
        "kind": invoice.kind, "issuer": invoice.issuer, "seller": invoice.seller, "customer": invoice.customer,
        "currency": invoice.currency, "period": {"start": invoice.period_start.isoformat(),
                                                 "end": invoice.period_end.isoformat()},
        "issued_at": invoice.issued_at, "due_at": invoice.due_at.isoformat() if invoice.due_at else None,
        "lines": [{"position": line.position, "kind": line.kind, "code": line.code, "description": line.description,
                   "quantity": _dec(line.quantity), "unit": line.unit, "unit_price": _dec(line.unit_price),
                   "amount": line.amount, "meta": line.meta} for line in sorted(lines, key=lambda x: x.position)],
        "subtotal": invoice.subtotal, "tax_rate": _dec(invoice.tax_rate), "tax_exempt": invoice.tax_exempt,
        "tax": invoice.tax, "total": invoice.total, "rating": invoice.rating,
    }


def credit_note_document(note, lines) -> dict:
    return {
        "type": "credit_note", "id": str(note.id), "org_id": str(note.org_id), "number": note.number,
        "invoice": {"id": str(note.invoice_id), "number": note.invoice.number}, "issuer": note.issuer,
        "application": note.application, "reason": note.reason, "issued_at": note.issued_at,
        "lines": [{"position": line.position, "invoice_line": line.invoice_line_id, "description": line.description,
                   "amount": line.amount} for line in sorted(lines, key=lambda x: x.position)],
        "net": note.net, "tax": note.tax, "total": note.total,
        "requested_by": note.requested_by, "approved_by": note.approved_by,
    }


def document_hash(document: dict) -> str:
    return sha256_hex(canonical_json(document))
