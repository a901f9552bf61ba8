"""Platform-approved plan overrides: the one way to change an org's commercial limits.

An override replaces one plan value for one org — a quota, an entitlement, the rate limit, the
soft-warning ratio, the billable metrics or the org's extra (forbid-only) Cedar policies. Only a
platform principal (a superuser, or platform staff holding ``org.manage``) may set or remove one;
each change is written to the org's audit chain with the value before and after. Tenants may read
their overrides (the table is tenant-owned, under RLS) but nothing they write feeds them.

The values in force are cached in Redis per org; every change drops the cache at once and again
on commit, so the next request anywhere sees it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import numbers

import redis
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from dos import scope
from dos.audit import audit_record
from dos.redis_client import org_key, redis_client
from tenancy.models import PlanOverride
from tenancy.plans import load_plans, plan_for, plan_with_overrides

CACHE_SECONDS = 300
RATE_LIMIT_FIELDS = ("rps", "burst")


class PlanOverrideRefused(PermissionDenied):
    """The actor is not platform staff allowed to change commercial limits (403 ``platform_only``)."""

    code = "platform_only"
    permission = "org.manage"


class PlanOverrideInvalid(ValidationError):
    """The key is not one the platform can override, or the value does not fit it."""


def _known() -> dict[str, set[str]]:
    plans = load_plans().values()
    return {
        "quota": {name for p in plans for name in p.quotas},
        "entitlement": {e for p in plans for e in p.entitlements if e != "*"},
        "metric": {m for p in plans for m in p.metrics},
    }


def known_keys() -> list[str]:
    known = _known()
    return sorted([f"quota.{q}" for q in known["quota"]] + [f"entitlement.{e}" for e in known["entitlement"]]
                  + [f"rate_limit.{f}" for f in RATE_LIMIT_FIELDS] + ["soft_ratio", "metrics", "cedar_policies"])


def override_validate(key: str, value):
    """The value to store for ``key``, or ``PlanOverrideInvalid`` naming what is wrong."""
    from tenancy.cedar import org_policies_validate

    known = _known()
    kind, _, name = key.partition(".")
    if kind == "quota" and name in known["quota"]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PlanOverrideInvalid({"value": f"{key} is a whole number of at least 0."})
        return value
    if kind == "entitlement" and name in known["entitlement"]:
        if not isinstance(value, bool):
            raise PlanOverrideInvalid({"value": f"{key} is true (grant) or false (withhold)."})
        return value
    if kind == "rate_limit" and name in RATE_LIMIT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0:
            raise PlanOverrideInvalid({"value": f"{key} is a number above 0."})
        return value
    if key == "soft_ratio":
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
            raise PlanOverrideInvalid({"value": "soft_ratio is a fraction above 0 and at most 1."})
        return float(value)
    if key == "metrics":
        if not isinstance(value, list) or not set(value) <= known["metric"]:
            raise PlanOverrideInvalid({"value": f"metrics is a list of: {', '.join(sorted(known['metric']))}."})
        return sorted(set(value))
    if key == "cedar_policies":
        if not isinstance(value, str):
            raise PlanOverrideInvalid({"value": "cedar_policies is Cedar policy text."})
        org_policies_validate(value)
        return value
    raise PlanOverrideInvalid({"key": f"'{key}' cannot be overridden; one of: {', '.join(known_keys())}."})


def plan_value(plan, key: str):
    """What ``plan`` says for an override key (None when it says nothing)."""
    kind, _, name = key.partition(".")
    if kind == "quota":
        return plan.quotas.get(name)
    if kind == "rate_limit":
        return plan.rate_limit.get(name)
    if kind == "entitlement":
        return plan.entitled(name)
    if key == "soft_ratio":
        return plan.soft_ratio
    if key == "metrics":
        return sorted(plan.metrics)
    if key == "cedar_policies":
        return plan.cedar_policies
    return None


def platform_approver(actor):
    """The person approving a platform change; ``PlanOverrideRefused`` for anyone else.

    Accepts a user or an admin principal: a superuser, or platform staff holding ``org.manage``.
    A tenant principal — an org owner included — is refused whatever it holds in its org."""
    from tenancy.permissions import platform_permissions

    if hasattr(actor, "is_superuser"):
        user = actor  # a User (the admin's request.user, dosctl --as)
    elif getattr(actor, "platform", False) is True and getattr(actor, "kind", "") == "user":
        user = actor.user  # an admin principal working in platform scope
    else:
        user = None  # API keys, org members acting in their org, system labels
    if user is None or not getattr(user, "pk", None) or not getattr(user, "is_active", False):
        raise PlanOverrideRefused("Plan overrides are approved by platform staff only.")
    if user.is_superuser or "org.manage" in platform_permissions(user):
        return user
    raise PlanOverrideRefused("Plan overrides are approved by platform staff holding 'org.manage'.")


def _chain_value(value):
    """The chain hashes canonical JSON without floats: a rate or a ratio is recorded as its text."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return [_chain_value(v) for v in value]
    return value


def _cache_key(org_id) -> str:
    return org_key("planov", org_id)


def _cache_drop(org_id) -> None:
    key = _cache_key(org_id)
    redis_client().delete(key)
    transaction.on_commit(lambda: redis_client().delete(key))


def overrides_in_force(org_id, now: dt.datetime | None = None) -> dict:
    """{key: value} of the org's unexpired overrides (cached in Redis)."""
    now = now or timezone.now()
    try:
        raw = redis_client().get(_cache_key(org_id))
    except redis.RedisError:  # the cache is a helper: without it, read the rows (docs/runbooks/degradation.md)
        raw = None
    if raw is not None:
        cached = json.loads(raw)
        return {k: v for k, (v, until) in cached.items() if until is None or until > now.timestamp()}
    with scope.org_scope(org_id):
        rows = list(PlanOverride.objects.filter(org_id=org_id).values_list("key", "value", "expires_at"))
    cached = {key: (value, expires.timestamp() if expires else None) for key, value, expires in rows}
    with contextlib.suppress(redis.RedisError):
        redis_client().set(_cache_key(org_id), json.dumps(cached), ex=CACHE_SECONDS)
    return {k: v for k, (v, until) in cached.items() if until is None or until > now.timestamp()}


def plan_override_set(*, org, key: str, value, reason: str, actor, expires_at: dt.datetime | None = None,
                      now: dt.datetime | None = None) -> PlanOverride:
    """Set (or replace) one override for ``org``; platform principals only; audited old → new."""
    approver = platform_approver(actor)
    now = now or timezone.now()
    value = override_validate(key, value)
    reason = (reason or "").strip()
    if not reason:
        raise PlanOverrideInvalid({"reason": "Say why the plan is overridden (it is kept on the audit chain)."})
    if expires_at is not None and expires_at <= now:
        raise PlanOverrideInvalid({"expires_at": "An override cannot expire in the past."})
    with scope.org_scope(org.id):
        existing = PlanOverride.objects.select_for_update().filter(org_id=org.id, key=key).first()
        old = plan_value(plan_with_overrides(plan_for(org.plan), overrides_in_force(org.id, now)), key)
        if existing is None:
            existing = PlanOverride(org_id=org.id, key=key)
        existing.value, existing.previous, existing.reason = value, old, reason
        existing.approved_by, existing.created_at, existing.expires_at = approver, now, expires_at
        existing.save()
        audit_record(org_id=org.id, action="plan_override.set", actor=actor, target=f"plan_override:{key}",
                     data={"key": key, "old": _chain_value(old), "new": _chain_value(value), "reason": reason,
                           "expires_at": expires_at.isoformat() if expires_at else None})
        _cache_drop(org.id)
    return existing


def plan_override_remove(*, override: PlanOverride, reason: str, actor) -> None:
    """Remove an override: the plan's own value applies again. Platform principals only; audited."""
    from tenancy.models import Org

    platform_approver(actor)
    with scope.org_scope(override.org_id):
        org = Org.objects.get(id=override.org_id)
        new = plan_value(plan_for(org.plan), override.key)
        PlanOverride.objects.filter(pk=override.pk).delete()
        audit_record(org_id=org.id, action="plan_override.removed", actor=actor,
                     target=f"plan_override:{override.key}",
                     data={"key": override.key, "old": _chain_value(override.value), "new": _chain_value(new),
                           "reason": (reason or "").strip()})
        _cache_drop(org.id)
