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
