"""Named actors and helpers for the subscription tests: platform finance (Fiona), Acme's billing
admin (Bea), a PoV subscription from 1 November 2026."""

from __future__ import annotations

import datetime as dt

from billing.subscriptions import change_preview, subscription_change, subscription_for, subscription_start
from dos import scope
from tenancy.models import Org
from tenancy.roles import PLATFORM_ROLE_PERMISSIONS
from tenancy.selectors import BrowserPrincipal
from tests.factories import UserFactory, add_member, as_member

NOV = dt.date(2026, 11, 1)
DEC = dt.date(2026, 12, 1)


def fiona() -> BrowserPrincipal:
    """Platform finance as the back office signs her in (platform scope)."""
    user = UserFactory(email="fiona@decisionos.example")
    return BrowserPrincipal(user=user, org_id=None, platform=True,
                            permissions=PLATFORM_ROLE_PERMISSIONS["platform_finance"])


def billing_admin(org, email: str = "bea@acme.example"):
    user = UserFactory(email=email)
    add_member(org, user, "billing_admin")
    return as_member(org, user)


def subscribe(org, plan: str = "pov", *, today: dt.date = NOV, **kwargs):
    with scope.org_scope(org.id):
        return subscription_start(org_id=org.id, plan_code=plan, actor="system:test", today=today, **kwargs)


def live(org):
    with scope.org_scope(org.id):
        return subscription_for(org.id)


def org_plan(org) -> str:
    with scope.org_scope(org.id):
        return Org.objects.get(pk=org.pk).plan


def preview_and_confirm(org, actor, plan: str, when: str, today: dt.date, **kwargs):
    with scope.org_scope(org.id):
        sub = subscription_for(org.id)
        preview = change_preview(subscription=sub, plan_code=plan, when=when, today=today, **kwargs)
        subscription_change(subscription=sub, plan_code=plan, when=when, token=preview.token, actor=actor,
                            today=today, **kwargs)
        return preview, subscription_for(org.id)


# --- for the permission matrix (tests/tenancy/test_permission_matrix.py): each prepares in Acme's scope
MATRIX_DAY = dt.date(2026, 11, 21)


def matrix_subscribed(w):
    from billing.subscriptions import subscription_for as live_subscription

    return live_subscription(w.org.id) or subscription_start(org_id=w.org.id, plan_code="pov", actor="system:test",
                                                             today=NOV)


def matrix_cancel_scheduled(w):
    """A cancellation the org's own billing admin scheduled (what platform finance schedules, only
    platform finance undoes)."""
    import uuid

    from billing.subscriptions import subscription_cancel

    tenant = billing_admin(w.org, email=f"matrix-{uuid.uuid4().hex[:8]}@{w.org.slug}.example")
    return subscription_cancel(subscription=matrix_subscribed(w), actor=tenant, today=MATRIX_DAY)


def matrix_change(w, actor, subscription):
    preview = change_preview(subscription=subscription, plan_code="pro", when="period_end", today=MATRIX_DAY)
    return subscription_change(subscription=subscription, plan_code="pro", when="period_end", token=preview.token,
                               actor=actor, today=MATRIX_DAY)


def matrix_change_api(w, client, subscription):
    body = {"plan": "pro", "when": "period_end"}
    preview = client.post("/api/v1/billing/subscription/change", body, format="json")
    if preview.status_code != 200:
        return preview
    return client.post("/api/v1/billing/subscription/change",
                       {**body, "confirm": True, "token": preview.json()["preview"]["token"]}, format="json")


def matrix_coupon(w):
    from billing.models import Coupon

    return Coupon.objects.create(code="MATRIX", name="Matrix", kind="fixed", amount_off=1000)


def matrix_draft_price(w):
    from billing.models import PricePlan

    return PricePlan.objects.get(code="pov")


def matrix_change_admin(w, client, subscription):
    """The back office's change-plan page, previewed for today (as the page does) and confirmed."""
    from django.utils import timezone

    from billing.periods import seoul_day

    with scope.org_scope(w.org.id):
        token = change_preview(subscription=subscription, plan_code="pro", when="period_end",
                               today=seoul_day(timezone.now())).token
    return client.post(f"/admin/billing/subscription/{subscription.pk}/change-plan/",
                       {"plan": "pro", "when": "period_end", "billing_cycle": "monthly", "token": token,
                        "confirmed": "yes"})


def matrix_changed(name: str) -> bool:
    """What the back office's pricing actions leave behind (run in the org's scope)."""
    from billing.models import CreditGrant, PriceVersion, Subscription

    return {
        "subscription.change": lambda: Subscription.objects.filter(scheduled_plan__code="pro").exists(),
        "subscription.cancel": lambda: Subscription.objects.filter(cancel_at_period_end=True).exists(),
        "credit.grant": lambda: CreditGrant.objects.exists(),
        "pricebook.publish": lambda: PriceVersion.objects.filter(version__gt=1, status="published").exists(),
    }[name]()
