"""What the invoices of this platform say about their issuer, tax and timing (settings, with defaults).

``BILLING_ISSUER`` (dict) overrides the issuing entity printed on every invoice and credit note;
``BILLING_VAT_RATE`` (decimal string), ``BILLING_REVIEW_WINDOW_HOURS``, ``BILLING_PAYMENT_TERMS_DAYS``
and ``BILLING_CREDIT_NOTE_FOUR_EYES_ABOVE`` (won) tune the rest (docs/runbooks/finance.md).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings

DEFAULT_ISSUER = {
    "code": "DOS",
    "name": "디시전오에스 주식회사 (DecisionOS Inc.)",
    "registration_number": "124-81-00998",
    "address": "서울특별시 강남구 테헤란로 427, 10층",
    "email": "billing@decisionos.example",
    "bank": "신한은행",
    "account_number": "140-013-456789",
    "account_holder": "디시전오에스 주식회사",
}


def issuer() -> dict:
    """The issuing entity as printed and hashed (a snapshot is frozen on each issued document)."""
    return {**DEFAULT_ISSUER, **getattr(settings, "BILLING_ISSUER", {})}


def vat_rate() -> Decimal:
    return Decimal(str(getattr(settings, "BILLING_VAT_RATE", "0.10")))


def review_window() -> dt.timedelta:
    return dt.timedelta(hours=int(getattr(settings, "BILLING_REVIEW_WINDOW_HOURS", 72)))


def payment_terms() -> dt.timedelta:
    return dt.timedelta(days=int(getattr(settings, "BILLING_PAYMENT_TERMS_DAYS", 14)))


def credit_note_four_eyes_above() -> int:
    """A credit note needs a second person when the invoice's notes (issued, awaiting approval and
    the new one, VAT included) add up to more than this many won."""
    return int(getattr(settings, "BILLING_CREDIT_NOTE_FOUR_EYES_ABOVE", 1_000_000))
