"""``dosctl audit verify --chain billing`` holds every issued invoice and credit note against the
entry it was chained as: the stored rows are turned into canonical JSON again and hashed; the hash
must equal the document's ``content_hash`` and the one its chain entry recorded."""

from __future__ import annotations

from billing.invoicing.documents import credit_note_document, document_hash, invoice_document
from billing.models import CreditNote, CreditNoteStatus, Invoice, InvoiceStatus
from dos.ledger import RecordProblem
from dos.models import LedgerEntry


def _problems(kind: str, records, document, chained: dict[int, dict]) -> list[RecordProblem]:
    problems = []
    for record in records:
        recomputed = document_hash(document(record, list(record.lines.all())))
        entry = chained.get(record.ledger_seq)
        if recomputed != record.content_hash:
            problems.append(RecordProblem(kind, str(record.pk), record.ledger_seq,
                                          f"{record.number}: its rows no longer hash to its content_hash"))
        elif entry is None or entry.get("content_hash") != record.content_hash:
            problems.append(RecordProblem(kind, str(record.pk), record.ledger_seq,
                                          f"{record.number}: the billing chain recorded another hash"))
    return problems


def billing_records_check(*, org_id) -> tuple[int, list[RecordProblem]]:
    invoices = list(Invoice.objects.filter(org_id=org_id).exclude(status=InvoiceStatus.DRAFT)
                    .prefetch_related("lines").order_by("ledger_seq"))
    notes = list(CreditNote.objects.filter(org_id=org_id, status=CreditNoteStatus.ISSUED)
                 .select_related("invoice").prefetch_related("lines").order_by("ledger_seq"))
    seqs = [r.ledger_seq for r in (*invoices, *notes) if r.ledger_seq is not None]
    chained = dict(LedgerEntry.objects.filter(org_id=org_id, chain="billing", seq__in=seqs)
                   .values_list("seq", "data")) if seqs else {}
    problems = _problems("invoice", invoices, invoice_document, chained)
    problems += _problems("credit_note", notes, credit_note_document, chained)
    return len(invoices) + len(notes), problems
