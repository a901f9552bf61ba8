"""Billing accounts: who pays, how they are taxed, and which payment-method token charges them.

The registration number (사업자등록번호) is checked with ``python-stdnum`` (format, tax office and
business type) and by its check digit. A
payment method is a provider token only — the account never sees a card or bank number (PCI DSS
SAQ-A), and anything that looks like one is refused. Tax exemption changes what an invoice charges,
so only platform finance sets it, and only with evidence.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.kr import brn
from stdnum.luhn import is_valid as luhn_valid

from billing.models import BillingAccount, TaxExempt
from dos.audit import audit_record
from dos.authz import PermissionRefused, action, authorize
from dos.errors import FieldErrors
from tenancy.models import Org

BILLING_ACCOUNT_UPDATE = action("billing_account.update", "billing.manage")
BILLING_ACCOUNT_TAX_STATUS = action("billing_account.tax_status", "billing.manage")

EDITABLE = ("legal_name", "registration_number", "address", "business_type", "business_item", "contact_name",
            "contact_email", "payment_provider", "payment_method_token", "payment_method_label")
TOKEN_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{5,119}$")


def billing_profile(org_id) -> BillingAccount:
    """The org's billing account; for an org that has none yet, an unsaved default named after the
    org (taxable, KRW) — reading never writes. Called inside the org's (or platform) scope."""
    account = BillingAccount.objects.filter(org_id=org_id).first()
    if account is not None:
        return account
    org = Org.unscoped_objects.filter(pk=org_id).only("name").first()
    return BillingAccount(org_id=org_id, legal_name=org.name if org else "", currency="KRW")


BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


def brn_check_digit(number: str) -> int:
    """The National Tax Service check digit of a 사업자등록번호: weights 1,3,7,1,3,7,1,3,5 over the first
    nine digits, plus the tens of the ninth digit × 5 (python-stdnum checks format and components only)."""
    digits = [int(c) for c in number[:9]]
    total = sum(d * w for d, w in zip(digits, BRN_WEIGHTS, strict=True)) + (digits[8] * 5) // 10
    return (10 - total % 10) % 10


def registration_number_clean(value: str) -> str:
    """10 digits without dashes, or a ``FieldErrors`` naming ``registration_number``."""
    if not value:
        return ""
    try:
        number = brn.validate(value)
    except StdnumError:
        number = None
    if number is None or brn_check_digit(number) != int(number[9]):
        raise FieldErrors({"registration_number": [
            "Not a valid 사업자등록번호: ten digits (e.g. 134-86-72683) whose check digit matches."]})
    return number


def payment_token_clean(value: str) -> str:
    if not value:
        return ""
    digits = re.sub(r"[\s\-]", "", value)
    if digits.isdigit() and 12 <= len(digits) <= 19 and luhn_valid(digits):
        raise FieldErrors({"payment_method_token": [
            "That looks like a card number. Send the payment provider's token; card numbers are never stored."]})
    if not TOKEN_RE.match(value):
        raise FieldErrors({"payment_method_token": ["A provider token: a letter, then letters, digits, _ or -."]})
    return value


def billing_account_update(*, org_id, changes: dict, actor) -> BillingAccount:
    """Create or change the org's billing account (the tenant's billing admin, or platform finance)."""
    actor = authorize(actor, BILLING_ACCOUNT_UPDATE)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise FieldErrors({key: ["This field cannot be changed here."] for key in unknown})
    clean = dict(changes)
    if "registration_number" in clean:
        clean["registration_number"] = registration_number_clean(clean["registration_number"] or "")
    if "payment_method_token" in clean:
        clean["payment_method_token"] = payment_token_clean(clean["payment_method_token"] or "")
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().filter(org_id=org_id).first() or billing_profile(org_id)
        before = {key: getattr(account, key) for key in clean}
        for key, value in clean.items():
            setattr(account, key, value if value is not None else "")
        if not account.legal_name.strip():
            raise FieldErrors({"legal_name": ["The company name is required."]})
        account.updated_at = timezone.now()
        account.full_clean(exclude=["org"])
        account.save()
        changed = sorted(key for key in clean if before[key] != getattr(account, key))
        audit_record(org_id=org_id, action="billing.account_updated", actor=actor,
                     target=f"billing_account:{account.pk}",
                     data={"fields": changed, "registration_number": account.registration_number_display()
                           if "registration_number" in changed else None})
    return account


def tax_status_errors(*, status: str, reason: str, evidence) -> dict[str, list[str]]:
    """What is wrong with a tax status change, by field (empty when nothing): a known status, and for
    anything but taxable a reason and at least one document ``{kind, reference}``."""
    if status not in TaxExempt.values:
        return {"tax_exempt": [f"One of {', '.join(TaxExempt.values)}."]}
    errors = {}
    if not isinstance(evidence, list):
        errors["tax_exempt_evidence"] = ["A list of documents: [{kind, reference}, …]."]
    elif evidence and not all(isinstance(e, dict) and e.get("kind") and e.get("reference") for e in evidence):
        errors["tax_exempt_evidence"] = ["Each document names its kind and reference: {kind, reference}."]
    if status != TaxExempt.NONE:
        if not (reason or "").strip():
            errors["tax_exempt_reason"] = ["Say why this customer is not charged VAT."]
        if not evidence and "tax_exempt_evidence" not in errors:
            errors["tax_exempt_evidence"] = ["Give at least one document: {kind, reference}."]
    return errors


def billing_account_tax_status_set(*, org_id, status: str, reason: str, evidence: list[dict], actor) -> BillingAccount:
    """Set zero-rated / exempt (or back to taxable). Platform finance only, with a reason and at
    least one piece of evidence for anything but taxable."""
    actor = authorize(actor, BILLING_ACCOUNT_TAX_STATUS)
    if not getattr(actor, "platform", False):
        raise PermissionRefused("Only platform finance changes a tax status.", permission="billing.manage",
                                code="platform_only")
    errors = tax_status_errors(status=status, reason=reason, evidence=evidence)
    if errors:
        raise FieldErrors(errors)
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().filter(org_id=org_id).first() or billing_profile(org_id)
        previous = account.tax_exempt
        stamped = [{**e, "recorded_at": timezone.now().isoformat(), "recorded_by": _label(actor)} for e in evidence]
        account.tax_exempt, account.tax_exempt_reason = status, reason.strip()
        account.tax_exempt_evidence = [*account.tax_exempt_evidence, *stamped]
        account.updated_at = timezone.now()
        account.save()
        audit_record(org_id=org_id, action="billing.tax_status_set", actor=actor, target=f"billing_account:{account.pk}",
                     data={"from": previous, "to": status, "reason": reason.strip(),
                           "evidence": [{"kind": e["kind"], "reference": e["reference"]} for e in evidence]})
    return account


def _label(actor) -> str:
    label = getattr(actor, "audit_label", None)
    return label() if callable(label) else str(actor)[:120]
