"""Shapes of the tenant's subscription and of a plan change (preview, then confirm)."""

from __future__ import annotations

from rest_framework import serializers

from billing.models import BillingCycle, SubscriptionStatus
from billing.rating import LINE_KINDS, PRICE_MODELS, SEAT_ROLES
from dos.api.fields import DecimalText
from tenancy.plans import plan_names


class PlanOut(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()


class TierOut(serializers.Serializer):
    up_to = DecimalText(allow_null=True, help_text="Inclusive upper bound of units; null for the last tier.")
    unit_price = DecimalText()
    flat_fee = DecimalText()


class MetricPriceOut(serializers.Serializer):
    metric = serializers.CharField()
    model = serializers.ChoiceField(choices=PRICE_MODELS)
    unit = serializers.CharField()
    included = DecimalText(help_text="Units per month free of charge, consumed before any tier.")
    unit_price = DecimalText(allow_null=True, help_text="Won per unit (standard).")
    tiers = TierOut(many=True, help_text="graduated: each unit at its tier's price; volume: all at the total's tier.")
    package_size = DecimalText(allow_null=True)
    package_price = DecimalText(allow_null=True)


class SeatPriceOut(serializers.Serializer):
    role = serializers.ChoiceField(choices=SEAT_ROLES)
    included = serializers.IntegerField()
    monthly_price = DecimalText(help_text="Won per extra seat and month, prorated by day.")


class PricesOut(serializers.Serializer):
    version = serializers.IntegerField()
    effective_from = serializers.DateField()
    base = DecimalText(help_text="Won per month.")
    minimum = DecimalText(allow_null=True, help_text="Monthly minimum commitment in won.")
    annual_discount_pct = DecimalText()
    metrics = MetricPriceOut(many=True)
    seats = SeatPriceOut(many=True)


class ScheduledChangeOut(serializers.Serializer):
    plan = serializers.CharField()
    price_version = serializers.IntegerField()
    billing_cycle = serializers.ChoiceField(choices=BillingCycle.choices)
    effective_on = serializers.DateField()


class CouponHeldOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["percent", "fixed"])
    value = serializers.CharField(help_text="Percent off, or won off per period (decimal string).")
    periods_applied = serializers.IntegerField()
    duration_months = serializers.IntegerField(allow_null=True, help_text="Periods it applies to; null: forever.")
    status = serializers.ChoiceField(choices=["active", "exhausted", "expired"])


class SubscriptionOut(serializers.Serializer):
    id = serializers.IntegerField()
    plan = PlanOut()
    status = serializers.ChoiceField(choices=SubscriptionStatus.choices)
    billing_cycle = serializers.ChoiceField(choices=BillingCycle.choices)
    started_on = serializers.DateField()
    trial_ends_on = serializers.DateField(allow_null=True, help_text="First billed day after the trial.")
    current_period_start = serializers.DateField()
    current_period_end = serializers.DateField(help_text="Inclusive.")
    cancel_at_period_end = serializers.BooleanField()
    cancels_on = serializers.DateField(allow_null=True, help_text="First day no longer billed.")
    scheduled_change = ScheduledChangeOut(allow_null=True)
    prices = PricesOut()
    credit_balance = serializers.IntegerField(help_text="Prepaid credit left, in won (spent after coupons).")
    coupons = CouponHeldOut(many=True)
    revision = serializers.IntegerField(help_text="Changes with every change; a preview is bound to it.")


class ChangeIn(serializers.Serializer):
    plan = serializers.ChoiceField(choices=plan_names(), help_text="Plan code (enterprise: through platform finance).")
    when = serializers.ChoiceField(choices=["now", "period_end"], default="period_end",
                                   help_text="now: prorated by day from today; period_end: from the 1st.")
    billing_cycle = serializers.ChoiceField(choices=BillingCycle.choices, required=False,
                                            help_text="Defaults to the current cycle.")
    confirm = serializers.BooleanField(default=False, help_text="false: preview only; true: make the change.")
    token = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                  help_text="The preview's token; confirming without it is 409 preview_stale.")

    class Meta:
        ref_name = "SubscriptionChangeIn"


class RatedLineOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LINE_KINDS)
    code = serializers.CharField()
    description = serializers.CharField()
    quantity = serializers.CharField(help_text="Exact decimal string.")
    unit = serializers.CharField()
    unit_price = serializers.CharField(allow_null=True)
    amount = serializers.IntegerField(help_text="Won, rounded once (half up).")
    meta = serializers.DictField()


class ChangePreviewOut(serializers.Serializer):
    plan = serializers.CharField()
    price_version = serializers.IntegerField()
    billing_cycle = serializers.ChoiceField(choices=BillingCycle.choices)
    when = serializers.ChoiceField(choices=["now", "period_end"])
    effective_on = serializers.DateField()
    current_lines = RatedLineOut(many=True, help_text="This period's plan fees as they stand.")
    changed_lines = RatedLineOut(many=True, help_text="This period's plan fees with the change.")
    proration = serializers.IntegerField(help_text="Won the next invoice carries for the change (negative: credit).")
    next_period_base = serializers.IntegerField(help_text="Won of plan fee per period after the change, before VAT.")
    token = serializers.CharField(help_text="Send back with confirm: true to make exactly this change.")
    notes = serializers.ListField(child=serializers.CharField())


class ChangeOut(serializers.Serializer):
    applied = serializers.BooleanField(help_text="false for a preview.")
    preview = ChangePreviewOut()
    subscription = SubscriptionOut()
