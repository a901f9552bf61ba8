"""Tenant API for the org's subscription: what it pays, and changing the plan (preview, then confirm)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response

from billing.api import subscription_serializers as s
from billing.credits import credit_remaining
from billing.models import CouponRedemption, Subscription
from billing.periods import next_month, seoul_day
from billing.pricebook import price_spec
from billing.subscriptions import change_preview, subscription_change, subscription_for
from dos.api.errors import Problem
from dos.api.fields import decimal_str
from dos.api.views import DosApiView
from dos.scope import require_org_id


def _no_subscription() -> Problem:
    return Problem(404, "no_subscription", "This organisation has no subscription.")


def _prices(subscription: Subscription) -> dict:
    spec = price_spec(subscription.price_version)
    return {"version": spec.version, "effective_from": subscription.price_version.effective_from, "base": spec.base,
            "minimum": spec.minimum, "annual_discount_pct": spec.annual_discount_pct,
            "metrics": [{"metric": m.metric, "model": m.model, "unit": m.unit, "included": m.included,
                         "unit_price": m.unit_price, "package_size": m.package_size, "package_price": m.package_price,
                         "tiers": [{"up_to": t.up_to, "unit_price": t.unit_price, "flat_fee": t.flat_fee}
                                   for t in m.tiers]} for m in spec.metrics],
            "seats": [{"role": x.role, "included": x.included, "monthly_price": x.monthly_price} for x in spec.seats]}


def subscription_data(subscription: Subscription, today: dt.date) -> dict:
    month = today.replace(day=1)
    scheduled = None
    if subscription.scheduled_plan_id:
        scheduled = {"plan": subscription.scheduled_plan.code, "price_version": subscription.scheduled_version.version,
                     "billing_cycle": subscription.scheduled_cycle or subscription.billing_cycle,
                     "effective_on": subscription.scheduled_for}
    return {"id": subscription.pk, "plan": {"code": subscription.plan.code, "title": subscription.plan.title},
            "status": subscription.status, "billing_cycle": subscription.billing_cycle,
            "started_on": subscription.started_on, "trial_ends_on": subscription.trial_ends_on,
            "current_period_start": month, "current_period_end": next_month(month) - dt.timedelta(days=1),
            "cancel_at_period_end": subscription.cancel_at_period_end, "cancels_on": subscription.cancelled_on,
            "scheduled_change": scheduled, "prices": _prices(subscription),
            "credit_balance": credit_remaining(subscription.org_id), "coupons": _coupons(subscription.org_id),
            "revision": subscription.revision}


def _coupons(org_id) -> list[dict]:
    rows = CouponRedemption.objects.filter(org_id=org_id).select_related("coupon").order_by("redeemed_at", "id")
    return [{"code": r.coupon.code, "name": r.coupon.name, "kind": r.coupon.kind,
             "value": decimal_str(r.coupon.percent_off) if r.coupon.kind == "percent" else str(r.coupon.amount_off),
             "periods_applied": r.periods_applied, "duration_months": r.coupon.duration_months, "status": r.status}
            for r in rows]


def _preview_data(preview) -> dict:
    return {"plan": preview.plan, "price_version": preview.price_version, "billing_cycle": preview.billing_cycle,
            "when": preview.when, "effective_on": preview.effective_on,
            "current_lines": [line.as_dict() for line in preview.current_lines],
            "changed_lines": [line.as_dict() for line in preview.changed_lines],
            "proration": preview.proration, "next_period_base": preview.next_period_base, "token": preview.token,
            "notes": preview.notes}


class SubscriptionApi(DosApiView):
    permission_map = {"get": "billing.read"}

    @extend_schema(responses=s.SubscriptionOut, summary="The organisation's subscription and the prices it pays")
    def get(self, request):
        subscription = subscription_for(require_org_id())
        if subscription is None:
            raise _no_subscription()
        return Response(s.SubscriptionOut(subscription_data(subscription, seoul_day(timezone.now()))).data)


class SubscriptionChangeApi(DosApiView):
    """Two calls: ``confirm: false`` prices the change (nothing is written) and returns a token;
    ``confirm: true`` with that token makes exactly the change shown — or answers 409
    ``preview_stale`` when the subscription, the price or the day changed since."""

    permission_map = {"post": "billing.manage"}

    @extend_schema(
        request=s.ChangeIn, responses=s.ChangeOut,
        summary="Change the plan: preview (proration by day) then confirm",
        examples=[OpenApiExample("Preview an upgrade today", request_only=True,
                                 value={"plan": "pro", "when": "now", "confirm": False}),
                  OpenApiExample("Confirm it", request_only=True,
                                 value={"plan": "pro", "when": "now", "confirm": True, "token": "3f1c…"})])
    def post(self, request):
        body = s.ChangeIn(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        org_id = require_org_id()
        subscription = subscription_for(org_id)
        if subscription is None:
            raise _no_subscription()
        today = seoul_day(timezone.now())
        preview = change_preview(subscription=subscription, plan_code=v["plan"], when=v["when"], today=today,
                                 billing_cycle=v.get("billing_cycle"), actor=request.auth)
        if v["confirm"]:
            subscription_change(subscription=subscription, plan_code=v["plan"], when=v["when"], token=v["token"],
                                actor=request.auth, today=today, billing_cycle=v.get("billing_cycle"))
            subscription = subscription_for(org_id)
        return Response(s.ChangeOut({"applied": v["confirm"], "preview": _preview_data(preview),
                                     "subscription": subscription_data(subscription, today)}).data)
