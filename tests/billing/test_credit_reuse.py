"""Issuing never spends the same prepaid credit or coupon period twice: two drafts open at once
(November still in review when December closes) both count on them; the second issue is refused
and its recomputed draft sees what the first one used."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing import credits
from billing.accounts import billing_account_update
from billing.close import month_close
from billing.credits import coupon_redeem, credit_grant
from billing.invoicing import invoice_issue
from billing.models import Coupon, CouponRedemption, CreditConsumption, Invoice, InvoiceStatus
from billing.periods import month_start_utc
from dos import scope
from tests.billing.invoicing_support import ISSUED_AT
from tests.billing.subscription_support import DEC, NOV, fiona, subscribe

pytestmark = pytest.mark.django_db
JAN_4 = dt.datetime(2027, 1, 4, 1, 0, tzinfo=dt.UTC)
CLOSER = "system:billing.close"


def _account(org):
    with scope.org_scope(org.id):
        billing_account_update(org_id=org.id, changes={"legal_name": "Acme"}, actor="system:test")


def test_prepaid_credit_is_never_spent_twice_by_two_open_drafts(acme):
    _account(acme)
    subscribe(acme, "pov")
    finance = fiona()
    with scope.org_scope(acme.id):
        grant = credit_grant(org_id=acme.id, amount=200_000, reason="promo", actor=finance)
    month_close(month=NOV, actor=CLOSER, now=ISSUED_AT)
    month_close(month=DEC, actor=CLOSER, now=JAN_4)  # December's draft also counts on the 200,000
    with scope.org_scope(acme.id):
        november, december = Invoice.objects.order_by("period_start")
        invoice_issue(invoice=november, actor=finance, now=JAN_4)
        with pytest.raises(credits.CreditsChanged):
            invoice_issue(invoice=december, actor=finance, now=JAN_4)
        assert Invoice.objects.get(pk=december.pk).status == InvoiceStatus.DRAFT
        spent = CreditConsumption.objects.filter(grant_id=grant.pk).aggregate(s=Sum("amount"))["s"]
    assert spent == 200_000
    month_close(month=DEC, actor=CLOSER, now=JAN_4)  # the recomputed draft has no credit left to apply
    with scope.org_scope(acme.id):
        december = Invoice.objects.get(pk=december.pk)
        assert not december.lines.filter(kind="credit").exists()
        invoice_issue(invoice=december, actor=finance, now=JAN_4)
        assert CreditConsumption.objects.filter(grant_id=grant.pk).aggregate(s=Sum("amount"))["s"] == 200_000


def test_a_one_month_coupon_applies_to_one_issued_month_only(acme):
    _account(acme)
    subscribe(acme, "pov")
    finance = fiona()
    Coupon.objects.create(code="ONCE", name="Once", kind="percent", percent_off=Decimal(10), duration_months=1)
    with scope.org_scope(acme.id):
        coupon_redeem(org_id=acme.id, code="ONCE", plan_code="pov", actor="system:test", now=month_start_utc(NOV))
    month_close(month=NOV, actor=CLOSER, now=ISSUED_AT)
    month_close(month=DEC, actor=CLOSER, now=JAN_4)
    with scope.org_scope(acme.id):
        november, december = Invoice.objects.order_by("period_start")
        assert december.lines.filter(code="coupon:ONCE").exists()
        invoice_issue(invoice=november, actor=finance, now=JAN_4)
        with pytest.raises(credits.CreditsChanged):
            invoice_issue(invoice=december, actor=finance, now=JAN_4)
        assert CouponRedemption.objects.get().applied_months == [NOV.isoformat()]
