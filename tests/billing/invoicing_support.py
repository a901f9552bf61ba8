"""Named actors and documents for the invoicing tests: platform finance (Fiona, Felix), a rated
PoV month, Acme's billing profile as printed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from billing.invoicing import invoice_draft_save, invoice_issue
from billing.rating import RatedLine, Rating
from dos import scope
from tenancy.roles import PLATFORM_ROLE_PERMISSIONS
from tenancy.selectors import BrowserPrincipal
from tests.factories import UserFactory

NOVEMBER = dt.date(2026, 11, 1)
NOV_END = dt.date(2026, 11, 30)
ISSUED_AT = dt.datetime(2026, 12, 4, 1, 0, tzinfo=dt.UTC)  # 10:00 in Seoul

ACME_PROFILE = {"legal_name": "에이크미 렌딩 주식회사 (Acme Lending)", "registration_number": "220-81-62517",
                "contact_surname": "김", "address": "서울특별시 중구 세종대로 110", "tax_exempt": False}


def finance_person(email: str = "fiona@decisionos.example") -> BrowserPrincipal:
    """A platform finance member as the back office signs her in (platform scope)."""
    user = UserFactory(email=email)
    return BrowserPrincipal(user=user, org_id=None, platform=True,
                            permissions=PLATFORM_ROLE_PERMISSIONS["platform_finance"])


def line(kind, code, description, quantity, unit, unit_price, amount, **meta) -> RatedLine:
    return RatedLine(kind=kind, code=code, description=description, quantity=Decimal(quantity), unit=unit,
                     unit_price=None if unit_price is None else Decimal(unit_price), amount=amount, meta=meta)


def rating_of(*lines: RatedLine, period=NOVEMBER) -> Rating:
    return Rating(lines=tuple(lines), subtotal=sum(x.amount for x in lines),
                  meta={"plan": "pov", "price_version_id": 1, "period": {"start": period.isoformat()}})


def pov_rating(calls: int = 12_345, agents: int = 7, period=NOVEMBER) -> Rating:
    """The PoV month by hand: ₩300,000 base, ₩20 per successful decide, 5 agent seats included and
    ₩10,000 per extra seat for the whole month."""
    extra = max(agents - 5, 0)
    return rating_of(
        line("base", "plan:pov", "PoV plan", "1", "month", "300000", 300_000),
        line("usage", "usage:decision_calls", "Successful decisions", calls, "call", "20", calls * 20),
        line("seat", "seat:agent", "Agent seats beyond the 5 included", extra, "seat", "10000", extra * 10_000),
        period=period)


def draft_for(org, *, rating=None, month=NOVEMBER, profile=None, actor="system:billing.close"):
    end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    with scope.org_scope(org.id):
        return invoice_draft_save(org_id=org.id, period_start=month, period_end=end, rating=rating or pov_rating(),
                                  customer=dict(profile or ACME_PROFILE), actor=actor)


def issued_for(org, *, rating=None, month=NOVEMBER, profile=None, now=ISSUED_AT, actor="system:billing.issue"):
    invoice = draft_for(org, rating=rating, month=month, profile=profile)
    with scope.org_scope(org.id):
        return invoice_issue(invoice=invoice, actor=actor, now=now)


def launch_price_book() -> None:
    """The price book the data migration seeds — again, when a transactional test's flush emptied it."""
    import importlib

    from django.apps import apps

    from billing.models import PricePlan

    if not PricePlan.objects.exists():
        importlib.import_module("billing.migrations.0009_seed_price_book").seed(apps, None)


# For the permission matrix: a draft, an issued invoice, a credit note awaiting its second person.
MATRIX_LATER = ISSUED_AT + dt.timedelta(days=1)


def matrix_draft(w):
    return draft_for(w.org)


def matrix_issued(w):
    return issued_for(w.org)


def matrix_pending_note(w):
    from billing.credit_notes import credit_note_create

    invoice = issued_for(w.org, rating=pov_rating(calls=100_000))  # ₩2,552,000 with VAT
    with scope.org_scope(w.org.id):
        return credit_note_create(invoice=invoice, actor=finance_person("fiona.matrix@decisionos.example"),
                                  amount=1_500_000, reason="matrix", now=MATRIX_LATER)
