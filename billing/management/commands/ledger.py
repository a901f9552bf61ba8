"""dosctl ledger: the subledger from the shell — a month's trial balance, the usage ↔ invoice drift
report, CSV/XLSX exports of invoices and journals, and a journal's reversal."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
from pathlib import Path

from django.core.management.base import CommandError
from django.db import transaction

from billing.drift import invoice_drift_compute, invoice_drift_run
from billing.exports import FORMATS, export
from billing.models import Invoice, Journal
from billing.subledger import reverse, trial_balance
from billing.subledger.trial_balance import unbalanced_journals
from dos import scope
from dos.management.base import DosCommand, add_actor_flag, add_json_flag, resolve_org
from tenancy.principals import command_actor

SYSTEM = "system:dosctl"


def _month(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(f"{value}-01")
    except ValueError:
        raise CommandError(f"'{value}' is not a month like 2026-11.") from None


def _won(amount: int) -> str:
    return f"₩{amount:,}"



def journal_number(value: str) -> int:
    """``J-123`` or ``123``: a journal's number, within what the database can hold."""
    text = value.strip().upper().removeprefix("J-")
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"'{value}' is not a journal number (J-123 or 123).")
    return int(text)

class Command(DosCommand):
    help = ("The subledger: a month's trial balance, the usage ↔ invoice drift report, CSV/XLSX exports of "
            "invoices and journals, and reversing a journal. Without --org, reports span every org "
            "(platform scope, written to the audit chain).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True,
                                    metavar="{trial-balance,drift,export,reverse}")
        tb = sub.add_parser("trial-balance", help="per account: brought forward, debits, credits, closing "
                                                  "(exits 1 when the month does not balance)")
        tb.add_argument("--month", required=True, help="booking month, e.g. 2026-11 (Asia/Seoul)")
        tb.add_argument("--org", help="one org (slug or id); default every org")
        add_json_flag(tb)
        drift = sub.add_parser("drift", help="compare metered usage with the month's invoices "
                                             "(exits 1 when a row is above the tolerance)")
        drift.add_argument("--month", required=True, help="billed month, e.g. 2026-11")
        drift.add_argument("--org", help="one org (slug or id); default every org with a billed invoice")
        add_json_flag(drift)
        out = sub.add_parser("export", help="write invoices or journal lines to a CSV or XLSX file")
        out.add_argument("--dataset", required=True, choices=["invoices", "journals"])
        out.add_argument("--format", dest="fmt", choices=sorted(FORMATS), help="default: the file's extension")
        out.add_argument("--out", required=True, help="file to write")
        out.add_argument("--org", help="one org (slug or id); default every org")
        out.add_argument("--from", dest="start", help="first month, e.g. 2026-01")
        out.add_argument("--to", dest="end", help="last month, e.g. 2026-11")
        add_json_flag(out)
        rev = sub.add_parser("reverse", help="book the mirror image of a journal (platform finance)")
        rev.add_argument("--org", required=True)
        rev.add_argument("--journal", required=True, type=journal_number, help="journal number (J-123 or 123)")
        rev.add_argument("--reason", required=True, help="kept on the billing and audit chains")
        add_actor_flag(rev)
        add_json_flag(rev)

    def handle(self, *args, **options):
        return getattr(self, f"do_{options['verb'].replace('-', '_')}")(options)

    @contextlib.contextmanager
    def _scope(self, options, what: str):
        """The org's scope with --org, else every org in an audited platform scope."""
        if options.get("org"):
            org = resolve_org(options["org"])
            with scope.org_scope(org.id):
                yield org
        else:
            with scope.platform_scope(reason=f"dosctl ledger {what}"):
                yield None

    def do_trial_balance(self, options):
        month = _month(options["month"])
        with self._scope(options, f"trial-balance {month:%Y-%m}") as org:
            report = trial_balance(month=month, org_id=org.id if org else None)
            unbalanced = unbalanced_journals(month=month, org_id=org.id if org else None)
        data = {**report.as_dict(), "org": org.slug if org else None, "unbalanced_journals": unbalanced}
        self.emit(options, data, lambda d: "\n".join(
            [f"Trial balance {month:%Y-%m} ({d['org'] or 'every org'}): {d['journals']} journals, "
             + ("balanced." if d["balanced"] and not unbalanced else "OUT OF BALANCE.")]
            + [f"  {'account':<12} {'brought fwd':>16} {'debit':>16} {'credit':>16} {'closing':>16}"]
            + [f"  {a['account']:<12} {_won(a['opening']):>16} {_won(a['debit']):>16} {_won(a['credit']):>16} "
               f"{_won(a['closing']):>16}" for a in d["accounts"]]
            + [f"  {'total':<12} {'':>16} {_won(d['debit_total']):>16} {_won(d['credit_total']):>16}"]
            + ([f"  journals not summing to zero: {', '.join(f'J-{j}' for j in unbalanced)}"] if unbalanced else [])))
        if not report.balanced or unbalanced:
            raise SystemExit(1)

    def do_drift(self, options):
        month = _month(options["month"])
        if options.get("org"):
            with self._scope(options, "drift") as org:
                rows = invoice_drift_compute(org_id=org.id, month=month, actor=SYSTEM)
                data = {"month": month.isoformat(), "org": org.slug, "rows": [
                    {"metric": r.metric, "metered": str(r.metered.normalize()), "invoiced": str(r.invoiced.normalize()),
                     "drift_pct": str(r.drift_pct), "alert": r.alert, "invoices": r.invoices} for r in rows]}
            alerts = sum(1 for r in data["rows"] if r["alert"])
            self.emit(options, data, lambda d: "\n".join(
                [f"Usage ↔ invoice drift of {d['org']} for {month:%Y-%m}:"]
                + [f"  {'ALERT' if r['alert'] else 'ok   '} {r['metric']:<18} metered {r['metered']:>14} invoiced "
                   f"{r['invoiced']:>14} drift {r['drift_pct']} %" for r in d["rows"]]
                or ["  no billed invoice for the month"]))
        else:
            data = invoice_drift_run(month=month, actor=SYSTEM)
            alerts = data["alerts"]
            self.emit(options, data, lambda d: f"Usage ↔ invoice drift for {month:%Y-%m}: {d['orgs']} orgs, "
                                               f"{d['rows']} metrics compared, {d['alerts']} above the tolerance.")
        if alerts:
            raise SystemExit(1)

    def do_export(self, options):
        path = Path(options["out"])
        fmt = options.get("fmt") or path.suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise CommandError(f"Give --format {' or '.join(sorted(FORMATS))} (or a file ending in one).")
        start = _month(options["start"]) if options.get("start") else None
        end = _month(options["end"]) if options.get("end") else None
        with self._scope(options, f"export {options['dataset']}") as org:
            queryset, field = ((Invoice.objects.all(), "period_start") if options["dataset"] == "invoices"
                               else (Journal.objects.all(), "period"))
            if org:
                queryset = queryset.filter(org_id=org.id)
            if start:
                queryset = queryset.filter(**{f"{field}__gte": start})
            if end:
                queryset = queryset.filter(**{f"{field}__lte": end})
            content, _type, _name = export(options["dataset"], fmt, queryset)
        path.write_bytes(content)
        self.emit(options, {"file": str(path), "bytes": len(content), "format": fmt, "dataset": options["dataset"]},
                  lambda d: f"Wrote {d['dataset']} to {d['file']} ({d['bytes']:,} bytes, {d['format']}).")

    def do_reverse(self, options):
        with self._scope(options, "reverse") as org, transaction.atomic():
            journal = Journal.objects.filter(org_id=org.id, pk=options["journal"]).first()
            if journal is None:
                raise CommandError(f"No journal J-{options['journal']} in {org.slug}.")
            reversal = reverse(journal, actor=command_actor(org, options.get("actor")), reason=options["reason"])
        self.emit(options, {"journal": journal.pk, "reversal": reversal.pk, "period": f"{reversal.period:%Y-%m}"},
                  lambda d: f"J-{d['journal']} reversed by J-{d['reversal']} (booked in {d['period']}).")
