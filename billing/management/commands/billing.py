"""dosctl billing: the month close, invoices and credit notes from the shell."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import CommandError
from django.db import transaction

from billing.close import invoices_issue_due, month_close
from billing.credit_notes import credit_note_create
from billing.models import Invoice
from billing.money import format_won
from billing.pdf import invoice_pdf
from dos.management.base import DosCommand, add_actor_flag, add_json_flag, is_uuid, resolve_org
from tenancy.principals import command_actor


def _period(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise CommandError(f"'{value}' is not a month: write it as YYYY-MM, e.g. 2026-11.") from None


def _invoice(org, ref: str) -> Invoice:
    found = Invoice.objects.filter(pk=ref) if is_uuid(ref) else Invoice.objects.filter(number=ref)
    invoice = found.first()
    if invoice is None:
        raise CommandError(f"No invoice '{ref}' in {org.slug} (give its number, e.g. DOS-2026-000123, or its id).")
    return invoice


class Command(DosCommand):
    help = ("Billing: close a month (draft every billable org's invoice), issue drafts past their review "
            "window, show an invoice, credit an invoice.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True, metavar="{close,issue-due,invoice,credit-note}")
        close = sub.add_parser("close", help="close a month: usage period closed, every billable org rated and "
                                             "drafted (idempotent; finishes a run that stopped half-way)")
        close.add_argument("--period", required=True, help="the month, YYYY-MM (Asia/Seoul), e.g. 2026-11")
        close.add_argument("--org", action="append", help="only this org (slug or id); repeatable")
        add_json_flag(close)
        due = sub.add_parser("issue-due", help="issue every draft whose review window has passed")
        add_json_flag(due)
        invoice = sub.add_parser("invoice", help="invoices").add_subparsers(dest="invoice_verb", required=True,
                                                                            metavar="{show}")
        show = invoice.add_parser("show", help="one invoice with its lines (and its PDF with --pdf)")
        show.add_argument("ref", help="invoice number (DOS-2026-000123) or id")
        show.add_argument("--org", required=True)
        show.add_argument("--pdf", metavar="PATH", help="also write the PDF here")
        add_json_flag(show)
        credit = sub.add_parser("credit-note", help="credit notes").add_subparsers(dest="note_verb", required=True,
                                                                                  metavar="{create}")
        create = credit.add_parser("create", help="credit an issued invoice (capped at its balance; VAT reversed "
                                                  "in proportion; above the four-eyes amount a person asks in the "
                                                  "back office and a second one approves)")
        create.add_argument("--org", required=True)
        create.add_argument("--invoice", required=True, help="invoice number or id")
        what = create.add_mutually_exclusive_group(required=True)
        what.add_argument("--amount", type=int, help="won to credit before VAT")
        what.add_argument("--full", action="store_true", help="credit everything still owed")
        what.add_argument("--line", action="append", metavar="LINE_ID[=WON]",
                          help="credit one invoice line (all that is left of it, or WON); repeatable")
        create.add_argument("--reason", required=True, help="printed on the credit note")
        create.add_argument("--carry", action="store_true", help="carry it to the next invoice instead of applying")
        add_actor_flag(create)
        add_json_flag(create)

    def handle(self, *args, **options):
        verb = options["verb"].replace("-", "_")
        return getattr(self, f"do_{verb}")(options)

    def do_close(self, options):
        month = _period(options["period"])
        org_ids = [resolve_org(ref).id for ref in options["org"]] if options.get("org") else None
        report = month_close(month=month, actor="system:dosctl", org_ids=org_ids)
        data = report.as_dict()
        self.emit(options, data, lambda d: "\n".join(
            [f"Closed {d['month']}: {d['orgs']} billable orgs, {d['drafts']} drafts written or unchanged, "
             f"{d['already_issued']} already issued, {len(d['failed'])} failed ({d['seconds']} s)."] +
            [f"  FAILED org {org}: {error}" for org, error in d["failed"].items()]))
        if not report.ok:
            raise SystemExit(1)

    def do_issue_due(self, options):
        report = invoices_issue_due(actor="system:dosctl")
        self.emit(options, report.as_dict(), lambda d: "\n".join(
            [f"Issued {len(d['issued'])} invoices" + (f": {', '.join(d['issued'])}" if d["issued"] else ".")] +
            [f"  LEFT IN REVIEW invoice {pk}: {error}" for pk, error in d["failed"].items()]))
        if not report.ok:
            raise SystemExit(1)

    def do_invoice(self, options):
        with self.org_scope(options) as org:
            invoice = _invoice(org, options["ref"])
            lines = list(invoice.lines.order_by("position"))
            if options.get("pdf"):
                Path(options["pdf"]).write_bytes(invoice_pdf(invoice))
        data = {"id": str(invoice.pk), "number": invoice.number, "status": invoice.status,
                "period": f"{invoice.period_start:%Y-%m}", "customer": invoice.customer.get("legal_name", ""),
                "lines": [{"code": x.code, "description": x.description, "quantity": str(x.quantity.normalize()),
                           "unit": x.unit, "amount": x.amount} for x in lines],
                "subtotal": invoice.subtotal, "tax": invoice.tax, "total": invoice.total, "balance": invoice.balance,
                "content_hash": invoice.content_hash}
        self.emit(options, data, lambda d: "\n".join(
            [f"{d['number'] or 'draft'} ({d['status']}) {d['customer']}, {d['period']}"] +
            [f"  {x['code']:<28} {x['quantity']:>12} {x['unit']:<12} {format_won(x['amount']):>16}" for x in d["lines"]] +
            [f"  {'subtotal':<54} {format_won(d['subtotal']):>16}", f"  {'VAT':<54} {format_won(d['tax']):>16}",
             f"  {'total':<54} {format_won(d['total']):>16}", f"  {'balance':<54} {format_won(d['balance']):>16}"]))

    def do_credit_note(self, options):
        lines = None
        if options.get("line"):
            lines = []
            for item in options["line"]:
                line_id, _, amount = item.partition("=")
                if not line_id.isdigit() or (amount and not amount.isdigit()):
                    raise CommandError(f"'{item}' is not LINE_ID or LINE_ID=WON.")
                lines.append({"invoice_line": int(line_id), "amount": int(amount) if amount else None})
        with self.org_scope(options) as org, transaction.atomic():
            invoice = _invoice(org, options["invoice"])
            note = credit_note_create(invoice=invoice, actor=command_actor(org, options.get("actor")),
                                      reason=options["reason"], amount=options.get("amount"), full=options["full"],
                                      lines=lines, application="carried" if options["carry"] else "applied")
        data = {"id": str(note.pk), "number": note.number, "status": note.status, "invoice": invoice.number,
                "net": note.net, "tax": note.tax, "total": note.total}
        self.emit(options, data, lambda d: (
            f"{d['number'] or 'Credit note awaiting a second approver'} against {d['invoice']}: "
            f"{format_won(d['net'])} + VAT {format_won(d['tax'])} = {format_won(d['total'])} ({d['status']})."))
