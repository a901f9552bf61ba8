"""The one table of roles → permission primitives (SPEC §6). Admin, API and Cedar all read it."""

from __future__ import annotations

from tenancy.choices import OrgRole, PlatformRoleName

PERMISSIONS: dict[str, str] = {
    "org.manage": "change org settings, plan, IP allowlist",
    "members.manage": "invite and remove members, change roles and grants",
    "project.manage": "create and change projects and environments",
    "keys.manage": "create and revoke API keys",
    "keys.rotate": "rotate signing/encryption keys (four-eyes)",
    "policy.read": "read policy sets and versions",
    "policy.write": "edit drafts and submit policy versions",
    "policy.approve": "approve and publish policy versions (four-eyes)",
    "decisions.run": "call /decide and /simulate",
    "decisions.read": "read decisions, explanations and evidence",
    "hitl.review": "work review cases",
    "hitl.approve": "approve escalations and overrides",
    "hitl.appeal": "decide appeals",
    "hitl.qa": "QA sampled cases",
    "vault.seal": "seal personal data into the vault",
    "vault.unseal": "reveal sealed personal data (four-eyes)",
    "billing.read": "read usage, invoices and payments",
    "billing.manage": "change plans, issue credit notes, record payments",
    "usage.read": "read metered usage",
    "meter.write": "send meter events",
    "catalog.read": "read the data catalog",
    "catalog.write": "change datasets, contracts and lineage",
    "modelops.manage": "register and deploy models",
    "audit.read": "read the audit chain",
    "ops.read": "read operational status and SLOs",
    "privacy.read": "read consent, privacy settings, discovery findings and data subject requests",
    "privacy.manage": "record and revoke consent, change privacy settings, confirm discovery tags, place legal holds",
    "dsar.fulfil": "verify and fulfil data subject requests (access, rectification, erasure, restriction)",
    "retention.approve": "approve a retention run proposed by someone else",
}

_READ = {"policy.read", "decisions.read", "catalog.read", "usage.read"}
_REVIEW = {"hitl.review", "decisions.read", "policy.read"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    OrgRole.OWNER: frozenset(PERMISSIONS),
    OrgRole.ADMIN: frozenset(PERMISSIONS) - {"billing.manage", "vault.unseal"},
    OrgRole.SECURITY_ADMIN: frozenset({"members.manage", "keys.manage", "keys.rotate", "audit.read", "vault.seal", "ops.read"}),
    OrgRole.BILLING_ADMIN: frozenset({"billing.read", "billing.manage", "usage.read"}),
    OrgRole.PROJECT_ADMIN: frozenset({"project.manage", "keys.manage", "policy.read", "policy.write", "decisions.run",
                                      "decisions.read", "catalog.read", "usage.read", "meter.write"}),
    OrgRole.AGENT: frozenset({"decisions.run", "decisions.read", "policy.read"}),
    OrgRole.REVIEWER: frozenset(_REVIEW),
    # Seniors may read sealed notes' originals, always under four eyes (another holder approves).
    OrgRole.SENIOR_REVIEWER: frozenset(_REVIEW | {"hitl.approve", "hitl.appeal", "policy.approve", "vault.unseal"}),
    OrgRole.QA: frozenset({"hitl.qa", "decisions.read", "policy.read"}),
    OrgRole.OPS_ADMIN: frozenset({"ops.read", "audit.read", "modelops.manage", "catalog.read", "usage.read"}),
    OrgRole.AUDITOR: frozenset(_READ | {"audit.read", "billing.read", "ops.read"}),
    OrgRole.READ_ONLY: frozenset(_READ),
    # The privacy officer answers for lawful processing: consent, subject requests, retention, and
    # reading sealed originals under four eyes.
    OrgRole.PRIVACY_OFFICER: frozenset({"privacy.read", "privacy.manage", "dsar.fulfil", "retention.approve",
                                        "vault.unseal", "audit.read", "decisions.read", "catalog.read"}),
    # The data steward classifies data: runs discovery and confirms the proposed tags.
    OrgRole.DATA_STEWARD: frozenset({"privacy.read", "catalog.read", "catalog.write"}),
}

PLATFORM_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    PlatformRoleName.FINANCE: frozenset({"billing.read", "billing.manage", "usage.read", "audit.read"}),
    PlatformRoleName.OPS: frozenset({"ops.read", "audit.read", "usage.read", "org.manage"}),
    PlatformRoleName.SUPPORT: frozenset({"ops.read", "audit.read", "usage.read", "decisions.read"}),
}

# Primitives that can also be granted on one project to one person (django-guardian object grants).
PROJECT_OBJECT_PERMISSIONS = ("policy.read", "policy.write", "policy.approve", "decisions.run", "decisions.read",
                              "keys.manage", "catalog.read", "catalog.write", "hitl.review")


def object_codename(primitive: str) -> str:
    return primitive.replace(".", "_")


# Scopes a new API key gets unless the creator names others.
DEFAULT_KEY_SCOPES = ("decisions.run", "decisions.read", "policy.read", "usage.read", "meter.write")


def permissions_for_roles(roles) -> frozenset[str]:
    out: set[str] = set()
    for role in roles:
        out |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(out)


def unknown_permissions(perms) -> list[str]:
    return sorted(set(perms) - set(PERMISSIONS))
