"""Billing accounts: a valid 사업자등록번호, payment-method tokens only, and tax exemption that only
platform finance sets, with evidence."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.accounts import (
    billing_account_tax_status_set,
    billing_account_update,
    billing_profile,
    brn_check_digit,
    registration_number_clean,
)
from billing.models import BillingAccount
from dos import scope
from dos.authz import PermissionRefused
from dos.errors import FieldErrors
from dos.models import LedgerEntry
from tests.billing.subscription_support import billing_admin, fiona
from tests.factories import acting

pytestmark = pytest.mark.django_db


def test_an_org_without_an_account_reads_a_taxable_default_named_after_it(acme):
    with scope.org_scope(acme.id):
        profile = billing_profile(acme.id)
        assert profile.pk is None and profile.legal_name == "Acme Lending" and profile.taxable
        assert BillingAccount.objects.count() == 0  # reading never writes


def test_the_billing_admin_sets_the_company_and_a_checked_registration_number(acme):
    with scope.org_scope(acme.id):
        account = billing_account_update(org_id=acme.id, actor=billing_admin(acme), changes={
            "legal_name": "에이크미 렌딩 주식회사", "registration_number": "134-86-72683",
            "contact_name": "김민수", "contact_email": "billing@acme.example",
            "payment_provider": "toss", "payment_method_token": "pm_1NcX2aLkdIwHu7ix"})
        assert account.registration_number == "1348672683"
        assert account.registration_number_display() == "134-86-72683"
        customer = billing_profile(acme.id).as_customer()
        assert customer["contact_surname"] == "김" and "contact_name" not in customer
        assert customer["tax_exempt"] is False and customer["legal_name"] == "에이크미 렌딩 주식회사"
        assert LedgerEntry.objects.filter(chain="audit", action="billing.account_updated").exists()


@pytest.mark.parametrize("number", ["134-86-72684", "12345", "abcdefghij"])
def test_it_refuses_a_registration_number_whose_check_digit_fails(acme, number):
    with scope.org_scope(acme.id), pytest.raises(FieldErrors) as refused:
        billing_account_update(org_id=acme.id, actor="system:test",
                               changes={"legal_name": "Acme", "registration_number": number})
    assert "registration_number" in refused.value.errors


def test_it_never_stores_a_card_number_as_a_payment_method(acme):
    with scope.org_scope(acme.id), pytest.raises(FieldErrors) as refused:
        billing_account_update(org_id=acme.id, actor="system:test",
                               changes={"legal_name": "Acme", "payment_method_token": "4242 4242 4242 4242"})
    assert "card number" in refused.value.errors["payment_method_token"][0]


def test_only_platform_finance_makes_an_account_tax_exempt_and_only_with_evidence(acme, alice):
    with scope.org_scope(acme.id):
        with pytest.raises(PermissionRefused):
            billing_account_tax_status_set(org_id=acme.id, status="exempt", reason="NGO",
                                           evidence=[{"kind": "certificate", "reference": "X"}],
                                           actor=billing_admin(acme))
        with pytest.raises(FieldErrors) as refused:
            billing_account_tax_status_set(org_id=acme.id, status="zero_rated", reason="", evidence=[], actor=fiona())
        assert set(refused.value.errors) == {"tax_exempt_reason", "tax_exempt_evidence"}
        account = billing_account_tax_status_set(
            org_id=acme.id, status="zero_rated", reason="Export of services (부가가치세법 제24조)",
            evidence=[{"kind": "contract", "reference": "CT-2026-0042"}], actor=fiona())
        assert not account.taxable and billing_profile(acme.id).as_customer()["tax_exempt"] is True
        assert account.tax_exempt_evidence[0]["reference"] == "CT-2026-0042"
        with pytest.raises(PermissionRefused):
            billing_account_update(org_id=acme.id, actor=acting(alice, {"billing.read"}), changes={"address": "x"})


def test_it_refuses_fields_the_tenant_may_not_set(acme):
    with scope.org_scope(acme.id), pytest.raises(FieldErrors) as refused:
        billing_account_update(org_id=acme.id, actor=billing_admin(acme), changes={"tax_exempt": "exempt"})
    assert "tax_exempt" in refused.value.errors


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda s: s[:3] >= "101" and s[3:5] != "00"
                                                                      and s[5:] != "0000"),
       st.integers(min_value=1, max_value=9))
def test_a_registration_number_is_valid_exactly_when_its_check_digit_matches(body, shift):
    check = brn_check_digit(body)
    assert registration_number_clean(f"{body[:3]}-{body[3:5]}-{body[5:]}{check}") == f"{body}{check}"
    with pytest.raises(FieldErrors):
        registration_number_clean(f"{body}{(check + shift) % 10}")
