"""Commercial limits and authorization come from the plan plus platform-approved overrides — never
from the org's own settings (quotas, entitlements, rate limits, Cedar policies)."""

import datetime as dt

import pytest
from django.utils import timezone

from billing.quotas import EntitlementMissing, entitlement_require, quotas_for, soft_ratio
from billing.throttle import rate_limit_for
from dos import scope
from dos.models import LedgerEntry
from tenancy import cedar
from tenancy.models import Org, PlanOverride, PlatformRole
from tenancy.overrides import (
    PlanOverrideInvalid,
    PlanOverrideRefused,
    overrides_in_force,
    plan_override_remove,
    plan_override_set,
)
from tenancy.plans import effective_plan, plan_for
from tenancy.principals import ApiKeyPrincipal
from tenancy.selectors import BrowserPrincipal
from tests.conftest import api_client
from tests.factories import UserFactory, make_key, verified_client

pytestmark = pytest.mark.django_db

SELF_SERVED = {
    "quotas": {"decision_calls_per_day": 10_000_000},
    "rate_limit": {"rps": 100_000, "burst": 100_000},
    "entitlements": ["connectors.extended", "deploy.canary"],
    "soft_ratio": 1.0,
    "metrics": ["free_lunches"],
    "cedar_policies": "permit(principal, action, resource);",
}


@pytest.fixture
def ops(db):
    """Platform staff holding org.manage (platform_ops)."""
    user = UserFactory(email="ops@decisionos.example")
    PlatformRole.objects.create(user=user, role="platform_ops")
    return user


def _fresh(org) -> Org:
    with scope.org_scope(org.id):
        return Org.objects.get(id=org.id)


def _audit(org, action):
    with scope.org_scope(org.id):
        return list(LedgerEntry.objects.filter(chain="audit", action=action).order_by("seq"))


def test_it_ignores_limits_an_org_writes_into_its_own_settings(acme, alice):
    with scope.org_scope(acme.id):
        Org.objects.filter(id=acme.id).update(settings=SELF_SERVED)
    org = _fresh(acme)
    pro = plan_for("pro")
    assert org.settings["quotas"] == SELF_SERVED["quotas"]  # stored, but it is only the org's own data
    assert quotas_for(org)[("decision_calls", "day")] == pro.quotas["decision_calls_per_day"]
    assert rate_limit_for(org) == (float(pro.rate_limit["rps"]), float(pro.rate_limit["burst"]))
    assert soft_ratio(org) == pro.soft_ratio
    assert effective_plan(org).metrics == pro.metrics
    with pytest.raises(EntitlementMissing) as refused:
        entitlement_require(org=org, entitlement="connectors.extended")
    assert refused.value.code == "entitlement_missing" and refused.value.status == 403
    # The self-served permit grants nothing: alice (reviewer) still cannot approve a policy.
    verdict = cedar.authorize(org=org, user_id=str(alice.pk), permissions=frozenset({"hitl.review"}),
                              action="approve", permission="policy.approve", resource_type="PolicyVersion",
                              resource_id="v1")
    assert not verdict.allowed


def test_an_override_by_platform_staff_takes_effect_and_is_audited_with_old_and_new(acme, ops):
    before = quotas_for(_fresh(acme))[("decision_calls", "day")]
    override = plan_override_set(org=acme, key="quota.decision_calls_per_day", value=7, reason="Pilot extension",
                                 actor=ops)
    assert (override.previous, override.value, override.approved_by) == (before, 7, ops)
    assert quotas_for(_fresh(acme))[("decision_calls", "day")] == 7

    plan_override_set(org=acme, key="entitlement.connectors.extended", value=True, reason="Trial of connectors",
                      actor=ops)
    entitlement_require(org=_fresh(acme), entitlement="connectors.extended")  # no longer refused

    [entry] = _audit(acme, "plan_override.set")[:1]
    assert entry.data["key"] == "quota.decision_calls_per_day"
    assert (entry.data["old"], entry.data["new"]) == (before, 7)
    assert entry.actor == f"user:{ops.email}" or str(ops.pk) in entry.actor or ops.email in entry.actor

    plan_override_set(org=acme, key="quota.decision_calls_per_day", value=9, reason="More", actor=ops)
    replaced = _audit(acme, "plan_override.set")[-1]
    assert (replaced.data["old"], replaced.data["new"]) == (7, 9)

    with scope.org_scope(acme.id):
        row = PlanOverride.objects.get(org=acme, key="quota.decision_calls_per_day")
    plan_override_remove(override=row, reason="Pilot over", actor=ops)
    assert quotas_for(_fresh(acme))[("decision_calls", "day")] == before
    removed = _audit(acme, "plan_override.removed")[-1]
    assert (removed.data["old"], removed.data["new"]) == (9, before)


def test_a_rate_limit_override_governs_the_api_at_once(acme, ops):
    api = api_client(make_key(acme, scopes=["decisions.read"]))
    assert api.get("/api/v1/me").status_code == 200
    plan_override_set(org=acme, key="rate_limit.burst", value=1, reason="Abuse under investigation", actor=ops)
    plan_override_set(org=acme, key="rate_limit.rps", value=0.001, reason="Abuse under investigation", actor=ops)
    from dos.redis_client import org_key, redis_client

    redis_client().delete(org_key("tb", acme.id))  # start from a full (one-token) bucket
    assert api.get("/api/v1/me").status_code == 200
    throttled = api.get("/api/v1/me")
    assert throttled.status_code == 429


def test_an_override_lapses_when_it_expires(acme, ops):
    now = timezone.now()
    plan_override_set(org=acme, key="quota.decision_calls_per_day", value=3, reason="Weekend promo", actor=ops,
                      expires_at=now + dt.timedelta(hours=1), now=now)
    assert overrides_in_force(acme.id, now=now)["quota.decision_calls_per_day"] == 3
    assert "quota.decision_calls_per_day" not in overrides_in_force(acme.id, now=now + dt.timedelta(hours=2))


@pytest.mark.parametrize("who", ["owner", "owner_in_admin", "api_key", "system", "platform_support"])
def test_a_tenant_principal_cannot_create_one(acme, olivia, who):
    key = make_key(acme, scopes=["decisions.read"])
    actors = {
        "owner": olivia,
        "owner_in_admin": BrowserPrincipal(user=olivia, org_id=acme.id, platform=False,
                                           permissions=frozenset({"org.manage", "billing.manage"})),
        "api_key": ApiKeyPrincipal(key=key.key, org=acme),
        "system": "system:anything",
    }
    if who == "platform_support":
        support = UserFactory(email="support@decisionos.example")
        PlatformRole.objects.create(user=support, role="platform_support")  # no org.manage
        actors[who] = support
    with pytest.raises(PlanOverrideRefused):
        plan_override_set(org=acme, key="quota.decision_calls_per_day", value=10**9, reason="self-service",
                          actor=actors[who])
    with scope.org_scope(acme.id):
        assert not PlanOverride.objects.exists()
    assert quotas_for(_fresh(acme))[("decision_calls", "day")] == plan_for("pro").quotas["decision_calls_per_day"]


def test_the_override_admin_is_platform_only(client, acme, olivia):
    c = verified_client(client, olivia)
    assert c.get("/admin/tenancy/planoverride/").status_code == 403
    response = c.post("/admin/tenancy/planoverride/add/", {"org": acme.id, "key": "quota.decision_calls_per_day",
                                                           "value_text": "1000000000", "reason": "mine"})
    assert response.status_code == 403
    with scope.org_scope(acme.id):
        assert not PlanOverride.objects.exists()


def test_platform_staff_set_an_override_in_the_admin_and_see_old_and_new(client, acme, ops):
    c = verified_client(client, ops)
    response = c.post("/admin/tenancy/planoverride/add/", {"org": acme.id, "key": "quota.decision_calls_per_day",
                                                           "value_text": "12345", "reason": "Contract addendum 4"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert quotas_for(_fresh(acme))[("decision_calls", "day")] == 12345
    listing = c.get("/admin/tenancy/planoverride/").content.decode()
    assert "12345" in listing and str(plan_for("pro").quotas["decision_calls_per_day"]) in listing
    assert _audit(acme, "plan_override.set")[-1].data["new"] == 12345


def test_a_cedar_permit_is_refused_at_save(acme, ops):
    with pytest.raises(cedar.CedarPolicyRefused) as refused:
        plan_override_set(org=acme, key="cedar_policies", reason="Let reviewers publish", actor=ops,
                          value='permit(principal, action == Action::"approve", resource);')
    assert "only forbid" in str(refused.value)
    with pytest.raises(cedar.CedarPolicyRefused):
        plan_override_set(org=acme, key="cedar_policies", value="forbid(principal", reason="typo", actor=ops)
    with scope.org_scope(acme.id):
        assert not PlanOverride.objects.exists()


def test_an_approved_forbid_narrows_what_roles_allow(acme, bob, ops):
    args = dict(user_id=str(bob.pk), permissions=frozenset({"policy.approve"}), action="approve",
                permission="policy.approve", resource_type="PolicyVersion", resource_id="v1")
    assert cedar.authorize(org=_fresh(acme), **args).allowed
    plan_override_set(org=acme, key="cedar_policies", reason="No approvals during the audit", actor=ops,
                      value='forbid(principal, action == Action::"approve", resource);')
    assert not cedar.authorize(org=_fresh(acme), **args).allowed


def test_a_cedar_allow_never_stands_in_for_the_permission(acme, alice, monkeypatch):
    # Even a permit that reached the policy set around the service (a hand-edited row) grants nothing.
    monkeypatch.setattr(cedar, "_org_policies", lambda org: "permit(principal, action, resource);")
    verdict = cedar.authorize(org=_fresh(acme), user_id=str(alice.pk), permissions=frozenset({"hitl.review"}),
                              action="approve", permission="policy.approve", resource_type="PolicyVersion",
                              resource_id="v1")
    assert not verdict.allowed


@pytest.mark.parametrize("key, value", [("quota.free_lunches_per_day", 5), ("quota.decision_calls_per_day", -1),
                                        ("entitlement.decisions.run", "yes"), ("rate_limit.rps", 0),
                                        ("soft_ratio", 2), ("metrics", ["free_lunches"]), ("settings", {})])
def test_it_refuses_unknown_keys_and_ill_fitting_values(acme, ops, key, value):
    with pytest.raises(PlanOverrideInvalid):
        plan_override_set(org=acme, key=key, value=value, reason="x", actor=ops)
