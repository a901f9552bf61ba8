"""Pricing: the platform's price book (plans, effective-dated price versions, coupons) and what each
org holds against it (coupon redemptions, prepaid credit, seat counts per role over time).

The price book has no ``org_id``: it is platform data every org reads (a Citus reference table,
``dos.citus.REFERENCE_TABLES``). A published price version never changes; a new price is a new
version with a later ``effective_from``, and a subscription pins the version it pays.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dos.citus import TenantForeignKey
from dos.rls import TenantModel


class PricePlan(models.Model):
    """A sellable plan. ``code`` is the tenancy plan name (tenancy/plans.yaml): what the org may use
    comes from there, what it pays from this plan's price versions."""

    code = models.SlugField(max_length=32, unique=True)
    title = models.CharField(max_length=80)
    quoted = models.BooleanField(default=False, help_text=_("Priced per contract (Enterprise): versions are quotes."))
    self_serve = models.BooleanField(default=True, help_text=_("Tenants may switch to it from the API."))
    position = models.PositiveSmallIntegerField(default=0, help_text=_("Order in lists, cheapest first."))
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("price plan")

    def __str__(self) -> str:
        return self.title


class PriceVersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class PriceVersion(models.Model):
    """One price of a plan from ``effective_from`` on. ``spec`` is the price definition
    (billing.pricebook parses and validates it); ``spec_sha256`` is taken at publication and a
    published spec never changes (a database trigger refuses it)."""

    plan = models.ForeignKey(PricePlan, on_delete=models.PROTECT, related_name="versions", db_index=False)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=PriceVersionStatus.choices, default=PriceVersionStatus.DRAFT)
    effective_from = models.DateField(help_text=_("First billing day (Asia/Seoul) this price applies to new periods."))
    spec = models.JSONField(help_text=_("Base fee, minimum, metrics with their price model, seats, annual discount."))
    spec_sha256 = models.CharField(max_length=64, blank=True)
    quote_ref = models.CharField(max_length=80, blank=True,
                                 help_text=_("Contract or quote this version prices (quoted plans only)."))
    notes = models.TextField(blank=True)
    created_by = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    published_by = models.CharField(max_length=120, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan__position", "-version"]
        verbose_name = _("price version")
        constraints = [models.UniqueConstraint(fields=["plan", "version"], name="priceversion_plan_version_uniq")]
        indexes = [models.Index(fields=["plan", "status", "effective_from"], name="priceversion_current_idx")]

    def __str__(self) -> str:
        return f"{self.plan.code} v{self.version}"


class CouponKind(models.TextChoices):
    PERCENT = "percent", _("Percent off")
    FIXED = "fixed", _("Fixed amount off")


class Coupon(models.Model):
    """A discount the platform offers. Band limits: it applies only to a period whose charges reach
    ``min_subtotal``, and never takes off more than ``max_discount`` in one period."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=CouponKind.choices)
    percent_off = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    amount_off = models.BigIntegerField(null=True, blank=True, help_text=_("Won off per period (fixed coupons)."))
    min_subtotal = models.BigIntegerField(default=0, help_text=_("Applies only when a period's charges reach this."))
    max_discount = models.BigIntegerField(null=True, blank=True, help_text=_("At most this many won off per period."))
    duration_months = models.PositiveSmallIntegerField(null=True, blank=True,
                                                       help_text=_("Periods it applies to; empty: forever."))
    max_redemptions = models.PositiveIntegerField(null=True, blank=True)
    redeem_by = models.DateTimeField(null=True, blank=True, help_text=_("Last moment it can be redeemed."))
    plans = models.JSONField(default=list, blank=True, help_text=_("Plan codes it is valid for; empty: any."))
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("coupon")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="percent", percent_off__gt=0, percent_off__lte=100)
                           | models.Q(kind="fixed", amount_off__gt=0)),
                name="coupon_kind_amount_valid"),
        ]

    def __str__(self) -> str:
        return self.code


class RedemptionStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    EXHAUSTED = "exhausted", _("Used up")
    EXPIRED = "expired", _("Expired")


class CouponRedemption(TenantModel):
    """An org's use of a coupon: how many periods it has been applied to (counted when an invoice
    carrying it is issued), so ``duration_months`` and ``max_redemptions`` hold."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions", db_index=False)
    redeemed_at = models.DateTimeField(default=timezone.now)
    redeemed_by = models.CharField(max_length=120, blank=True)
    periods_applied = models.PositiveSmallIntegerField(default=0)
    applied_months = models.JSONField(default=list, blank=True, help_text=_("Billing months it was applied to."))
    status = models.CharField(max_length=12, choices=RedemptionStatus.choices, default=RedemptionStatus.ACTIVE)

    class Meta:
        ordering = ["-redeemed_at"]
        verbose_name = _("coupon redemption")
        constraints = [models.UniqueConstraint(fields=["org", "coupon"], name="couponredemption_org_coupon_uniq")]


class CreditGrant(TenantModel):
    """Prepaid credit (a purchase, a goodwill gesture, a carried credit note): a balance in won that
    rating consumes before charging. What is left is ``amount`` minus its consumptions."""

    amount = models.BigIntegerField(help_text=_("Won granted."))
    reason = models.CharField(max_length=200)
    source = models.CharField(max_length=40, default="manual", help_text=_("manual | prepaid | credit_note"))
    source_ref = models.CharField(max_length=80, blank=True)
    granted_by = models.CharField(max_length=120, blank=True)
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["expires_at", "granted_at"]
        verbose_name = _("credit grant")
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="creditgrant_amount_positive")]

    def __str__(self) -> str:
        return f"credit #{self.pk} ₩{self.amount:,}"


class CreditConsumption(TenantModel):
    """Credit spent by an issued invoice (append-only; one row per grant and invoice)."""

    grant = TenantForeignKey(CreditGrant, on_delete=models.PROTECT, related_name="consumptions", db_index=False)
    amount = models.BigIntegerField()
    invoice_ref = models.CharField(max_length=64, help_text=_("The invoice whose credit line spent it."))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("credit consumption")
        constraints = [
            models.UniqueConstraint(fields=["org", "grant", "invoice_ref"], name="creditconsumption_once_uniq"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="creditconsumption_amount_positive"),
        ]


class SeatRole(models.TextChoices):
    AGENT = "agent", _("Agent")
    REVIEWER = "reviewer", _("Reviewer")
    ADMIN = "admin", _("Admin")


class SeatLevel(TenantModel):
    """How many seats of a role an org holds from a day on (Asia/Seoul), until the next level of the
    same role: the per-day seat count rating prorates by. Written from membership counts by the
    daily sync, or set by billing staff; one level per role and day (the day's last write holds)."""

    role = models.CharField(max_length=12, choices=SeatRole.choices)
    since = models.DateField()
    quantity = models.PositiveIntegerField()
    source = models.CharField(max_length=16, default="sync", help_text=_("sync | manual"))
    recorded_by = models.CharField(max_length=120, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["role", "-since"]
        verbose_name = _("seat level")
        constraints = [models.UniqueConstraint(fields=["org", "role", "since"], name="seatlevel_org_role_since_uniq")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.role} from {self.since}"
