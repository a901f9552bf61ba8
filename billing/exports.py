"""CSV and XLSX exports of invoices and journals for finance (spreadsheets, the accountant's import).

One row per invoice; one row per journal line (debit and credit in their own columns, so a pivot or
a SUM per column reproduces the trial balance). Won amounts are integers; dates and times are Asia/
Seoul, as people read them. CSV is UTF-8 with a byte-order mark, so spreadsheet software opens the
Korean names correctly; a text cell that a spreadsheet would run as a formula (starting with =, +,
-, @, a tab or a carriage return) is written with a leading apostrophe. XLSX is written with
openpyxl in write-only mode (streamed, constant memory per row), won columns formatted ``#,##0``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from billing.models import Invoice, Journal
from billing.periods import SEOUL

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[object], object]
    won: bool = False


def _seoul(value: dt.datetime | None) -> str:
    return value.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M") if value else ""


def _month(value: dt.date | None) -> str:
    return value.strftime("%Y-%m") if value else ""


INVOICE_COLUMNS = (
    Column("number", lambda i: i.number),
    Column("org", lambda i: i.org.slug),
    Column("status", lambda i: i.status),
    Column("period", lambda i: _month(i.period_start)),
    Column("period_end", lambda i: i.period_end.isoformat()),
    Column("issued_at", lambda i: _seoul(i.issued_at)),
    Column("due", lambda i: i.due_at.isoformat() if i.due_at else ""),
    Column("customer", lambda i: (i.customer or {}).get("legal_name") or (i.customer or {}).get("name", "")),
    Column("registration_number", lambda i: (i.customer or {}).get("registration_number", "")),
    Column("currency", lambda i: i.currency),
    Column("subtotal", lambda i: i.subtotal, won=True),
    Column("vat", lambda i: i.tax, won=True),
    Column("total", lambda i: i.total, won=True),
    Column("credited", lambda i: i.amount_credited, won=True),
    Column("paid", lambda i: i.amount_paid, won=True),
    Column("balance", lambda i: i.balance, won=True),
)

# Rows are (journal, line) pairs.
JOURNAL_COLUMNS = (
    Column("journal", lambda r: f"J-{r[0].pk}"),
    Column("org", lambda r: r[0].org.slug),
    Column("period", lambda r: _month(r[0].period)),
    Column("occurred_at", lambda r: _seoul(r[0].occurred_at)),
    Column("event", lambda r: r[0].event),
    Column("rule_version", lambda r: r[0].rule_version),
    Column("source", lambda r: r[0].source_label or r[0].source_id),
    Column("source_type", lambda r: r[0].source_type),
    Column("reverses", lambda r: f"J-{r[0].reverses_id}" if r[0].reverses_id else ""),
    Column("account", lambda r: r[1].account),
    Column("debit", lambda r: r[1].debit, won=True),
    Column("credit", lambda r: r[1].credit, won=True),
    Column("memo", lambda r: r[0].memo),
    Column("actor", lambda r: r[0].actor),
)


def invoice_rows(queryset) -> Iterable[Invoice]:
    """Billed invoices (drafts are not documents yet), in number order, two queries in all."""
    return queryset.exclude(status="draft").select_related("org").order_by("period_start", "number")


def journal_rows(queryset) -> Iterable[tuple[Journal, object]]:
    for journal in queryset.select_related("org").prefetch_related("lines").order_by("id"):
        for line in journal.lines.all():
            yield journal, line


def _safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def as_csv(columns, rows) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    for row in rows:
        writer.writerow([_safe(c.value(row)) for c in columns])
    return out.getvalue().encode("utf-8")


def as_xlsx(columns, rows, *, title: str) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for column in columns:
            cell = WriteOnlyCell(sheet, value=_safe(column.value(row)))
            if column.won:
                cell.number_format = "#,##0"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export(dataset: str, fmt: str, queryset) -> tuple[bytes, str, str]:
    """``(content, content type, file name)`` of ``dataset`` ("invoices" | "journals") as ``fmt``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if dataset == "invoices":
        columns, rows = INVOICE_COLUMNS, invoice_rows(queryset)
    elif dataset == "journals":
        columns, rows = JOURNAL_COLUMNS, journal_rows(queryset)
    else:
        raise ValueError("dataset must be invoices or journals")
    content = as_csv(columns, rows) if fmt == "csv" else as_xlsx(columns, rows, title=dataset)
    return content, FORMATS[fmt], f"{dataset}.{fmt}"
