"""Plans from tenancy/plans.yaml, validated once at import and read by entitlement/quota checks."""

from __future__ import annotations

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

    def entitled(self, entitlement: str) -> bool:
        """A pattern entitles itself, anything it globs, and its sub-entitlements
        ("decisions.run" covers "decisions.run.basic")."""
        return any(fnmatch.fnmatchcase(entitlement, pattern) or entitlement.startswith(pattern + ".")
                   for pattern in self.entitlements)

    def quota(self, name: str) -> int | None:
        return self.quotas.get(name)


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
