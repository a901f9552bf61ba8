"""Bad input on the finance back office and shell is a field error or a clear refusal, never a 500,
never a half-written change: the trial balance's month, coupons, credit grants, the billing
account's tax evidence, and `dosctl ledger reverse --journal`."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.accounts import billing_account_update
from billing.models import BillingAccount, Coupon, CreditGrant
from dos import scope
from tests.factories import verified_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("month", ["0001-01", "9999-12", "1999-12", "3000-01"])
def test_the_trial_balance_falls_back_to_a_known_month_outside_the_range_it_accepts(client, fiona, bill, month):
    for user in (fiona, bill):
        page = verified_client(client, user).get("/admin/billing/journal/trial-balance/", {"month": month})
        assert page.status_code == 200


def test_a_percent_coupon_without_a_percentage_is_a_field_error(client, fiona):
    c = verified_client(client, fiona)
    page = c.post("/admin/billing/coupon/add/", {"code": "HALF", "name": "Half", "kind": "percent",
                                                  "min_subtotal": "0", "plans": "[]", "active": "on"})
    assert page.status_code == 200
    assert "percent_off" in page.context_data["adminform"].form.errors
    assert not Coupon.objects.exists()


@pytest.mark.parametrize("amount", ["0", "-5000"])
def test_a_credit_grant_of_nothing_is_a_field_error(client, fiona, acme, amount):
    page = verified_client(client, fiona).post("/admin/billing/creditgrant/add/", {
        "org": str(acme.id), "amount": amount, "reason": "goodwill"})
    assert page.status_code == 200
    assert "amount" in page.context_data["adminform"].form.errors
    with scope.org_scope(acme.id):
        assert not CreditGrant.objects.exists()


def _account_form(account: BillingAccount, **changes) -> dict:
    data = {"legal_name": account.legal_name, "registration_number": "", "address": "", "business_type": "",
            "business_item": "", "contact_name": "", "contact_email": "", "payment_provider": "",
            "payment_method_token": "", "payment_method_label": "", "tax_exempt": "none", "tax_exempt_reason": "",
            "tax_exempt_evidence": "[]"}
    return data | changes


@pytest.mark.parametrize("evidence", ['{"kind": "certificate", "reference": "X"}', '["certificate"]', "[]"])
def test_bad_tax_evidence_is_a_field_error_and_nothing_is_written(client, fiona, acme, evidence):
    with scope.org_scope(acme.id):
        account = billing_account_update(org_id=acme.id, changes={"legal_name": "Acme"}, actor="system:test")
    page = verified_client(client, fiona).post(
        f"/admin/billing/billingaccount/{account.pk}/change/",
        _account_form(account, legal_name="Acme Lending", tax_exempt="zero_rated", tax_exempt_reason="export",
                      tax_exempt_evidence=evidence))
    assert page.status_code == 200
    assert "tax_exempt_evidence" in page.context_data["adminform"].form.errors
    with scope.org_scope(acme.id):
        account = BillingAccount.objects.get(pk=account.pk)
    assert (account.legal_name, account.tax_exempt) == ("Acme", "none")  # the name change was not kept either


def test_a_valid_exemption_with_a_name_change_is_saved_together(client, fiona, acme):
    with scope.org_scope(acme.id):
        account = billing_account_update(org_id=acme.id, changes={"legal_name": "Acme"}, actor="system:test")
    page = verified_client(client, fiona).post(
        f"/admin/billing/billingaccount/{account.pk}/change/",
        _account_form(account, legal_name="Acme Lending", tax_exempt="zero_rated", tax_exempt_reason="export",
                      tax_exempt_evidence='[{"kind": "certificate", "reference": "EX-1"}]'))
    assert page.status_code == 302, page.content[:400]
    with scope.org_scope(acme.id):
        account = BillingAccount.objects.get(pk=account.pk)
    assert (account.legal_name, account.tax_exempt) == ("Acme Lending", "zero_rated")
    assert account.tax_exempt_evidence[0]["reference"] == "EX-1"


@pytest.mark.parametrize("journal", ["99999999999999999999", "-1", "J-x", "²"])
def test_dosctl_ledger_reverse_refuses_a_journal_number_it_cannot_hold(acme, journal):
    with pytest.raises(CommandError, match="journal number"):
        call_command("ledger", "reverse", "--org", acme.slug, "--journal", journal, "--reason", "x",
                     stdout=io.StringIO())
