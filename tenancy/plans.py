"""Plans from tenancy/plans.yaml, validated once at import, and each org's effective plan.

What an org may use — entitlements, quotas, rate limits, the soft-warning ratio, billable metrics
and any extra Cedar policies — is its plan plus the platform-approved ``PlanOverride`` rows
(tenancy.overrides). ``Org.settings`` is the org's own free-form data and never feeds these: a
tenant who can edit its settings must not be able to raise its own limits or grant itself access.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

PLANS_FILE = Path(__file__).with_name("plans.yaml")


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    entitlements: tuple[str, ...]
    metrics: tuple[str, ...]
    quotas: dict
    rate_limit: dict
    soft_ratio: float
    support: str = ""
    trial_days: int | None = None
    withheld: tuple[str, ...] = ()  # entitlements an override takes away from this org
    cedar_policies: str = ""  # extra, forbid-only Cedar policies approved for this org

    def entitled(self, entitlement: str) -> bool:
        """A pattern entitles itself, anything it globs, and its sub-entitlements
        ("decisions.run" covers "decisions.run.basic")."""
        if any(_covers(pattern, entitlement) for pattern in self.withheld):
            return False
        return any(_covers(pattern, entitlement) for pattern in self.entitlements)

    def quota(self, name: str) -> int | None:
        return self.quotas.get(name)


def _covers(pattern: str, entitlement: str) -> bool:
    return fnmatch.fnmatchcase(entitlement, pattern) or entitlement.startswith(pattern + ".")


@cache
def load_plans() -> dict[str, Plan]:
    raw = yaml.safe_load(PLANS_FILE.read_text())
    defaults = raw.get("defaults", {})
    plans = {}
    for name, spec in raw["plans"].items():
        for required in ("title", "entitlements", "quotas", "metrics"):
            if required not in spec:
                raise ValueError(f"plans.yaml: plan '{name}' lacks '{required}'")
        plans[name] = Plan(
            name=name, title=spec["title"], entitlements=tuple(spec["entitlements"]), metrics=tuple(spec["metrics"]),
            quotas=dict(spec["quotas"]), rate_limit={**defaults.get("rate_limit", {}), **spec.get("rate_limit", {})},
            soft_ratio=float(spec.get("soft_ratio", defaults.get("soft_ratio", 0.8))),
            support=spec.get("support", ""), trial_days=spec.get("trial_days"),
        )
    return plans


def plan_names() -> list[str]:
    return list(load_plans())


def plan_for(name: str) -> Plan:
    return load_plans()[name]


def plan_with_overrides(plan: Plan, overrides: dict) -> Plan:
    """``plan`` with the given (already validated) override values applied."""
    quotas = dict(plan.quotas)
    rate_limit = dict(plan.rate_limit)
    granted, withheld = list(plan.entitlements), []
    changes: dict = {}
    for key, value in overrides.items():
        kind, _, name = key.partition(".")
        if kind == "quota":
            quotas[name] = value
        elif kind == "rate_limit":
            rate_limit[name] = value
        elif kind == "entitlement":
            (granted if value else withheld).append(name)
        elif key == "soft_ratio":
            changes["soft_ratio"] = float(value)
        elif key == "metrics":
            changes["metrics"] = tuple(value)
        elif key == "cedar_policies":
            changes["cedar_policies"] = value
    return dataclasses.replace(plan, quotas=quotas, rate_limit=rate_limit, entitlements=tuple(granted),
                               withheld=tuple(withheld), **changes)


def effective_plan(org) -> Plan:
    """The org's plan with its platform-approved overrides in force (never ``Org.settings``)."""
    from tenancy.overrides import overrides_in_force

    return plan_with_overrides(plan_for(org.plan), overrides_in_force(org.id))
