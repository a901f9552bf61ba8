"""Demo tenants for `make run` (never in production: demo_seed refuses DJANGO_ENV=prod).

Acme Lending (plan pro) has one person per org role, Outsider Co has its owner, and two platform
staff exist. Everyone signs in through the local IdP with the dev password; every demo account
shares one dev TOTP key so an authenticator app (or `python -m devstack totp`) gives the code.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from dos import scope
from dos.demo import demo_warn, dev_totp_base32, dev_totp_device, stored_secret, write_private
from tenancy import services
from tenancy.choices import OrgRole, PlatformRoleName
from tenancy.models import ApiKey, Org, PlatformRole, Project

User = get_user_model()
DEMO_ORGS = [("acme", "Acme Lending", "pro"), ("outsider", "Outsider Co", "sandbox")]
DEMO_KEY_SCOPES = ("decisions.run", "decisions.read", "policy.read", "usage.read", "meter.write", "project.manage",
                   "keys.manage", "members.manage", "audit.read", "privacy.read", "privacy.manage")


def _var(name: str) -> Path:
    return Path(settings.VAR_DIR) / name


def _org(slug: str, name: str, plan: str) -> Org:
    with scope.platform_scope(reason="demo_seed: find demo org"):
        org = Org.objects.filter(slug=slug).first()
    return org or services.org_create(name=name, plan=plan, slug=slug, actor="system:demo_seed")


def _person(email: str, name: str) -> User:
    user = User.objects.filter(email=email).first() or User.objects.create_user(email=email, full_name=name)
    dev_totp_device(user)  # demo accounts are enrolled already: they never see the set-up step
    return user


def demo_org(slug: str = "acme") -> Org:
    with scope.platform_scope(reason="demo_seed: find demo org"):
        return Org.objects.get(slug=slug)


def demo_api_key() -> str:
    """Acme's demo key, as the tenancy step stored it."""
    return _var("demo-api-key").read_text().strip()


def demo_project(org: Org, lines: list[str] | None = None) -> Project:
    """The org's default project, usable: restored if a tenant archived it, recreated if it is gone."""
    with scope.org_scope(org.id):
        project = Project.objects.filter(org=org, slug="default").first()
        if project is None:
            project = services.project_create(org=org, name="Default", slug="default", actor="system:demo_seed")
            _note(lines, f"the default project of {org.slug} was gone: created it again")
        elif project.archived_at is not None:
            # The seed owns this demo project and restores it (its keys stay revoked).
            services.project_restore(project=project, actor="system:demo_seed", reason="demo seed")
            _note(lines, f"the default project of {org.slug} was archived: restored it (its keys stay revoked)")
    return project


def _note(lines: list[str] | None, message: str) -> None:
    line = demo_warn(message)
    if lines is not None:
        lines.append(line)


def _demo_key(org: Org, project: Project, lines: list[str]) -> str:
    """A stable demo API key for Acme's default project, made again if it was revoked, expired or lost."""
    stored = _var("demo-api-key")
    secret = stored.read_text().strip() if stored.exists() else ""
    parts = secret.split("_")
    with scope.org_scope(org.id):
        current = ApiKey.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()), prefix=parts[1], project=project,
            revoked_at__isnull=True).first() if len(parts) >= 3 else None
        if current is not None and set(DEMO_KEY_SCOPES) <= set(current.scopes):
            return secret
        created = services.apikey_create(project=project, name="demo", scopes=list(DEMO_KEY_SCOPES),
                                         actor="system:demo_seed")
    if current is not None:  # the old key goes: one demo key at a time
        with scope.org_scope(org.id):
            services.apikey_revoke(key=current, actor="system:demo_seed", reason="demo key replaced (scopes)")
        _note(lines, "the demo API key lacked scopes the demo offers now: made a new one")
    elif secret:
        _note(lines, "the demo API key was revoked, expired or unreadable: made a new one")
    write_private(stored, created.secret)
    return created.secret


def seed_tenancy() -> list[str]:
    import secrets

    password = stored_secret("demo-password", lambda: "dos-" + secrets.token_urlsafe(9))
    acme, outsider = (_org(*spec) for spec in DEMO_ORGS)
    accounts = []

    def account(user, roles):
        accounts.append({"sub": str(user.pk), "email": user.email, "password": password, "name": user.full_name,
                         "roles": roles})

    for role in OrgRole.values:
        user = _person(f"{role.replace('_', '.')}@acme.example", f"Acme {role.replace('_', ' ')}")
        with scope.org_scope(acme.id):
            services.membership_add(org=acme, email=user.email, role=role, actor="system:demo_seed")
        account(user, [f"acme:{role}"])
    mallory = _person("owner@outsider.example", "Outsider owner")
    with scope.org_scope(outsider.id):
        services.membership_add(org=outsider, email=mallory.email, role=OrgRole.OWNER, actor="system:demo_seed")
    account(mallory, ["outsider:owner"])
    for role, email in ((PlatformRoleName.FINANCE, "finance@decisionos.example"),
                        (PlatformRoleName.OPS, "ops@decisionos.example")):
        user = _person(email, role.label)
        PlatformRole.objects.get_or_create(user=user, role=role)
        account(user, [])
    write_private(_var("idp-accounts.json"), json.dumps(accounts, ensure_ascii=False, indent=1))
    repairs: list[str] = []
    key = _demo_key(acme, demo_project(acme, repairs), repairs)
    return [*repairs,
        "Demo logins  (Sign in with SSO on the admin login page; password for all: " + password + ")",
        "  Acme Lending: owner@acme.example, admin@, reviewer@, senior.reviewer@, qa@, auditor@, … @acme.example",
        "  Outsider Co: owner@outsider.example · platform staff: finance@ / ops@decisionos.example",
        f"TOTP (dev)    every demo account shares the key {dev_totp_base32()}",
        "               add it to an authenticator app, or print the current code: .venv/bin/python -m devstack totp",
        f"API key      {key}  (Acme Lending, project default)",
        f"Try it       curl -s -H 'Authorization: Bearer {key}' {settings.DOS_BASE_URL}/api/v1/me",
    ]
