"""Five sample invoices (and a credit note) rendered to PDF and read back with poppler's pdftotext."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest

from billing.credit_notes import credit_note_create
from billing.pdf import credit_note_pdf, invoice_pdf
from dos import scope
from tests.billing.invoicing_support import (
    ACME_PROFILE,
    ISSUED_AT,
    draft_for,
    issued_for,
    line,
    pov_rating,
    rating_of,
)

pytestmark = pytest.mark.django_db
PERIOD = "2026년 11월 1일 ~ 2026년 11월 30일"


def text_of(pdf: bytes, tmp_path, name: str) -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def assert_invoice_text(text: str, *, number: str, subtotal: str, tax: str, total: str, codes: list[str]):
    for expected in ("청구서", "Invoice", "공급자", "공급받는 자", "124-81-00998", "220-81-62517",
                     "디시전오에스 주식회사", "에이크미 렌딩 주식회사", PERIOD, "공급가액", "부가가치세", "합계",
                     "미결제 잔액", "입금 안내", "140-013-456789", number, subtotal, tax, total, *codes):
        assert expected in text, f"{expected!r} missing from the PDF text"


def test_sample_1_a_pov_month(acme, tmp_path):
    invoice = issued_for(acme)
    with scope.org_scope(acme.id):
        text = text_of(invoice_pdf(invoice), tmp_path, "pov")
    assert_invoice_text(text, number="DOS-2026-000001", subtotal="₩566,900", tax="₩56,690", total="₩623,590",
                        codes=["plan:pov", "usage:decision_calls", "seat:agent", "12,345", "₩20"])
    assert "담당자" in text and "김 님" in text and "2026년 12월 18일" in text  # surname only; due date


def test_sample_2_tax_exempt(acme, tmp_path):
    invoice = issued_for(acme, profile={**ACME_PROFILE, "tax_exempt": True})
    with scope.org_scope(acme.id):
        text = text_of(invoice_pdf(invoice), tmp_path, "exempt")
    assert_invoice_text(text, number="DOS-2026-000001", subtotal="₩566,900", tax="₩0", total="₩566,900",
                        codes=["plan:pov"])
    assert "면세" in text


def test_sample_3_a_draft_under_review(acme, tmp_path):
    invoice = draft_for(acme, rating=pov_rating(calls=0, agents=5))
    with scope.org_scope(acme.id):
        text = text_of(invoice_pdf(invoice), tmp_path, "draft")
    assert "초안" in text and "(draft)" in text and "발행 전" in text
    assert "₩300,000" in text and "₩30,000" in text and "₩330,000" in text and PERIOD in text


def test_sample_4_graduated_usage_with_coupon_and_credits(acme, tmp_path):
    rating = rating_of(
        line("base", "plan:pro", "Pro plan", "1", "month", "2000000", 2_000_000),
        line("usage", "usage:decision_calls", "Decisions 0–100,000", "100000", "call", "15", 1_500_000),
        line("usage", "usage:decision_calls:t2", "Decisions 100,000–1,000,000", "23456", "call", "10", 234_560),
        line("usage", "usage:ingest_calls", "Ingest calls", "130", "1,000 calls", "0.02", 3),
        line("discount", "coupon:WELCOME", "Coupon WELCOME (10 %)", "1", "coupon", None, -373_456),
        line("credit", "credit", "Prepaid credit", "1", "credit", None, -100_000))
    invoice = issued_for(acme, rating=rating)
    with scope.org_scope(acme.id):
        text = text_of(invoice_pdf(invoice), tmp_path, "graduated")
    assert_invoice_text(text, number="DOS-2026-000001", subtotal="₩3,261,107", tax="₩326,111", total="₩3,587,218",
                        codes=["coupon:WELCOME", "-₩373,456", "-₩100,000", "₩0.02", "23,456", "할인", "선불 크레딧 차감"])


def test_sample_5_credited_in_part_with_its_credit_note(acme, tmp_path):
    invoice = issued_for(acme)
    with scope.org_scope(acme.id):
        note = credit_note_create(invoice=invoice, actor="system:test", amount=100_000, reason="Outage on 11/14",
                                  now=ISSUED_AT + dt.timedelta(days=1))
        invoice.refresh_from_db()
        text = text_of(invoice_pdf(invoice), tmp_path, "credited")
        note_text = text_of(credit_note_pdf(note), tmp_path, "credit-note")
    assert_invoice_text(text, number="DOS-2026-000001", subtotal="₩566,900", tax="₩56,690", total="₩623,590",
                        codes=["DOS-CN-2026-000001", "-₩110,000", "₩513,590"])
    for expected in ("대변 전표", "Credit note", "DOS-CN-2026-000001", "DOS-2026-000001", "124-81-00998", "220-81-62517",
                     "₩100,000", "₩10,000", "₩110,000", "Outage on 11/14", "해당 청구서 잔액에서 차감"):
        assert expected in note_text, expected
