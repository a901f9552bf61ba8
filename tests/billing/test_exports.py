"""CSV and XLSX exports of invoices and journals, as finance opens them in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from billing.exports import as_csv, export
from billing.models import Invoice, Journal
from billing.subledger import SourceRef, post
from dos import scope
from tests.billing.invoicing_support import ACME_PROFILE, ISSUED_AT, draft_for, issued_for

pytestmark = pytest.mark.django_db


def read_csv(content: bytes) -> list[dict]:
    assert content.startswith("\ufeff".encode())  # spreadsheets need the mark to read UTF-8 (Korean names)
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_the_invoice_csv_has_one_row_per_billed_invoice_with_won_amounts(acme):
    issued = issued_for(acme)
    draft_for(acme, month=issued.period_start.replace(month=12))
    with scope.org_scope(acme.id):
        content, content_type, name = export("invoices", "csv", Invoice.objects.all())
    [row] = read_csv(content)
    assert (content_type, name) == ("text/csv; charset=utf-8", "invoices.csv")
    assert row["number"] == issued.number and row["customer"] == ACME_PROFILE["legal_name"]
    assert row["registration_number"] == "220-81-62517"
    assert (row["period"], row["issued_at"]) == ("2026-11", "2026-12-04 10:00")  # Asia/Seoul
    assert [int(row[k]) for k in ("subtotal", "vat", "total", "balance")] == [
        issued.subtotal, issued.tax, issued.total, issued.total]


def test_the_journal_xlsx_has_debit_and_credit_columns_that_balance(acme):
    issued = issued_for(acme)
    with scope.org_scope(acme.id):
        content, content_type, name = export("journals", "xlsx", Journal.objects.all())
    assert name == "journals.xlsx" and content_type.startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(content))["journals"]
    header, *rows = list(sheet.iter_rows(values_only=True))
    debit, credit = header.index("debit"), header.index("credit")
    assert {r[header.index("account")] for r in rows} == {"ar", "revenue", "tax_payable"}
    assert sum(r[debit] for r in rows) == sum(r[credit] for r in rows) == issued.total
    assert all(isinstance(r[debit], int) for r in rows)
    assert sheet.cell(row=2, column=debit + 1).number_format == "#,##0"
    assert rows[0][header.index("source")] == issued.number


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text(acme):
    with scope.org_scope(acme.id):
        post("invoice.issued", org_id=acme.id, source=SourceRef("billing.invoice", "x", "=HYPERLINK(\"http://x\")"),
             amounts={"net": 100, "tax": 10, "total": 110}, occurred_at=ISSUED_AT, actor="system:test",
             memo="+1 call me")
        content, _, _ = export("journals", "csv", Journal.objects.all())
        book, _, _ = export("journals", "xlsx", Journal.objects.all())
    rows = read_csv(content)
    assert {r["source"] for r in rows} == {"'=HYPERLINK(\"http://x\")"} and {r["memo"] for r in rows} == {"'+1 call me"}
    sheet = load_workbook(io.BytesIO(book)).active
    assert sheet.cell(row=2, column=7).value.startswith("'=")


def test_negative_numbers_stay_numbers():
    class Row:
        amount = -5

    from billing.exports import Column

    assert as_csv((Column("amount", lambda r: r.amount, won=True),), [Row()]).decode("utf-8-sig") == "amount\r\n-5\r\n"


@pytest.mark.parametrize(("dataset", "fmt"), [("payments", "csv"), ("invoices", "pdf")])
def test_it_refuses_what_it_cannot_export(acme, dataset, fmt):
    with scope.org_scope(acme.id), pytest.raises(ValueError):
        export(dataset, fmt, Invoice.objects.all())
