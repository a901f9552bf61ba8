"""Billing accounts (who pays, how they are taxed, a payment-method token) and subscriptions
(which price version an org pays, and where it is in its lifecycle)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models.pricing import PricePlan, PriceVersion
from dos.citus import TenantForeignKey
from dos.rls import TenantModel


class TaxExempt(models.TextChoices):
    NONE = "none", _("Taxable (VAT 10 %)")
    ZERO_RATED = "zero_rated", _("Zero-rated (영세율)")
    EXEMPT = "exempt", _("Exempt (면세)")


class BillingAccount(TenantModel):
    """One per org. Payment methods are tokens at the payment provider only (PCI DSS SAQ-A): no card
    or account number is ever stored here. The contact is a company contact, not a data subject we
    profile: a name and an email for invoices."""

    currency = models.CharField(max_length=3, default="KRW")
    legal_name = models.CharField(max_length=200, help_text=_("Company name as registered (상호)."))
    registration_number = models.CharField(max_length=12, blank=True,
                                           help_text=_("사업자등록번호, 10 digits (stored without dashes)."))
    address = models.CharField(max_length=300, blank=True)
    business_type = models.CharField(max_length=80, blank=True, help_text=_("업태"))
    business_item = models.CharField(max_length=80, blank=True, help_text=_("종목"))
    tax_country = models.CharField(max_length=2, default="KR")
    tax_exempt = models.CharField(max_length=12, choices=TaxExempt.choices, default=TaxExempt.NONE)
    tax_exempt_reason = models.CharField(max_length=200, blank=True)
    tax_exempt_evidence = models.JSONField(
        default=list, blank=True,
        help_text=_("Documents behind a non-taxable status: [{kind, reference, received_at, verified_by}]."))
    contact_name = models.CharField(max_length=80, blank=True)
    contact_email = models.EmailField(blank=True)
    payment_provider = models.CharField(max_length=24, blank=True)
    payment_method_token = models.CharField(max_length=120, blank=True,
                                            help_text=_("Provider token of the default payment method."))
    payment_method_label = models.CharField(max_length=40, blank=True, help_text=_("e.g. “Visa ·· 4242”."))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("billing account")
        constraints = [models.UniqueConstraint(fields=["org"], name="billingaccount_org_uniq")]

    def __str__(self) -> str:
        return self.legal_name

    @property
    def taxable(self) -> bool:
        return self.tax_exempt == TaxExempt.NONE

    def as_customer(self) -> dict:
        """The buyer as printed on an invoice: the company, its registration and tax status, and the
        contact's surname only (the one piece of personal data an invoice carries)."""
        surname = surname_of(self.contact_name)
        return {"org_id": str(self.org_id), "legal_name": self.legal_name,
                "registration_number": self.registration_number_display(),
                "address": self.address, "business_type": self.business_type, "business_item": self.business_item,
                "tax_country": self.tax_country, "tax_exempt": not self.taxable, "tax_status": self.tax_exempt,
                "contact_surname": surname, "currency": self.currency}

    def registration_number_display(self) -> str:
        n = self.registration_number
        return f"{n[:3]}-{n[3:5]}-{n[5:]}" if len(n) == 10 else n


def surname_of(name: str) -> str:
    """홍길동 → 홍, 남궁 민 → 남궁, Jane Doe → Doe: Korean names lead with the family name, Latin ones end with it."""
    parts = name.strip().split()
    if not parts:
        return ""
    if parts[0].isascii():
        return parts[-1]
    return parts[0] if len(parts) > 1 else parts[0][0]


class SubscriptionStatus(models.TextChoices):
    TRIAL = "trial", _("Trial")
    ACTIVE = "active", _("Active")
    PAST_DUE = "past_due", _("Past due")
    CANCELLED = "cancelled", _("Cancelled")


class BillingCycle(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    ANNUAL = "annual", _("Annual prepay")


class Subscription(TenantModel):
    """What an org pays: a plan at a pinned price version. At most one subscription of an org is not
    cancelled. A change scheduled for the period end is held in ``scheduled_*`` until then."""

    plan = models.ForeignKey(PricePlan, on_delete=models.PROTECT, related_name="+", db_index=False)
    price_version = models.ForeignKey(PriceVersion, on_delete=models.PROTECT, related_name="+", db_index=False)
    status = models.CharField(max_length=12, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    billing_cycle = models.CharField(max_length=8, choices=BillingCycle.choices, default=BillingCycle.MONTHLY)
    started_on = models.DateField(help_text=_("First day (Asia/Seoul) of the subscription."))
    trial_ends_on = models.DateField(null=True, blank=True, help_text=_("First billed day after the trial."))
    annual_term_start = models.DateField(null=True, blank=True, help_text=_("First month of the prepaid year."))
    cancel_at_period_end = models.BooleanField(default=False)
    cancelled_on = models.DateField(null=True, blank=True, help_text=_("First day no longer billed."))
    past_due_since = models.DateTimeField(null=True, blank=True)
    scheduled_plan = models.ForeignKey(PricePlan, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                       db_index=False)
    scheduled_version = models.ForeignKey(PriceVersion, null=True, blank=True, on_delete=models.PROTECT,
                                          related_name="+", db_index=False)
    scheduled_cycle = models.CharField(max_length=8, choices=BillingCycle.choices, blank=True)
    scheduled_for = models.DateField(null=True, blank=True)
    revision = models.PositiveIntegerField(default=1, help_text=_("Bumped by every change; previews name it."))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("subscription")
        constraints = [
            models.UniqueConstraint(fields=["org"], condition=~models.Q(status="cancelled"),
                                    name="subscription_one_live_per_org"),
        ]
        indexes = [models.Index(fields=["org", "status"], name="subscription_org_status_idx")]

    def __str__(self) -> str:
        return f"{self.plan.code} ({self.get_status_display()})"


class SubscriptionPhase(TenantModel):
    """The price version in force over ``[start, end)`` (Asia/Seoul days): the history rating splits
    a month by when a plan changes immediately. Written only by billing.subscriptions."""

    subscription = TenantForeignKey(Subscription, on_delete=models.PROTECT, related_name="phases", db_index=False)
    price_version = models.ForeignKey(PriceVersion, on_delete=models.PROTECT, related_name="+", db_index=False)
    billing_cycle = models.CharField(max_length=8, choices=BillingCycle.choices, default=BillingCycle.MONTHLY)
    start = models.DateField()
    end = models.DateField(null=True, blank=True, help_text=_("Exclusive; empty while in force."))
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["start"]
        verbose_name = _("subscription phase")
        indexes = [models.Index(fields=["org", "subscription", "start"], name="subphase_org_sub_start_idx")]


class SubscriptionEvent(TenantModel):
    """What happened to a subscription and why (append-only): the timeline the admin shows."""

    subscription = TenantForeignKey(Subscription, on_delete=models.PROTECT, related_name="events", db_index=False)
    kind = models.CharField(max_length=32)
    data = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=120)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("subscription event")
        indexes = [models.Index(fields=["org", "subscription", "at"], name="subevent_org_sub_at_idx")]
