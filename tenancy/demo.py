"""Demo tenants for `make run` (never in production: demo_seed refuses DJANGO_ENV=prod).

Acme Lending (plan pro) has one person per org role, Outsider Co has its owner, and two platform
staff exist. Everyone signs in through the local IdP with the dev password; every demo account
shares one dev TOTP key so an authenticator app (or `python -m dos.devstack totp`) gives the code.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice

from dos import scope
from tenancy import services
from tenancy.choices import OrgRole, PlatformRoleName
from tenancy.models import ApiKey, Org, PlatformRole, Project

User = get_user_model()
DEMO_ORGS = [("acme", "Acme Lending", "pro"), ("outsider", "Outsider Co", "sandbox")]


def _var(name: str) -> Path:
    return Path(settings.VAR_DIR) / name


def _secret(name: str, make) -> str:
    path = _var(name)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def dev_totp_key_hex() -> str:
    import secrets

    return _secret("demo-totp-key", lambda: secrets.token_hex(20))


def dev_totp_base32() -> str:
    return base64.b32encode(bytes.fromhex(dev_totp_key_hex())).decode().rstrip("=")


def _org(slug: str, name: str, plan: str) -> Org:
    with scope.platform_scope(reason="demo_seed: find demo org"):
        org = Org.objects.filter(slug=slug).first()
    return org or services.org_create(name=name, plan=plan, slug=slug, actor="system:demo_seed")


def _person(email: str, name: str) -> User:
    user = User.objects.filter(email=email).first() or User.objects.create_user(email=email, full_name=name,
                                                                                    is_staff=True)
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="Dev authenticator",
                                                 defaults={"key": dev_totp_key_hex(), "confirmed": True})
    if device.key != dev_totp_key_hex():
        device.key = dev_totp_key_hex()
        device.save(update_fields=["key"])
    return user


def _demo_key(org: Org) -> str:
    """A stable demo API key for Acme, recreated only if it was revoked or lost."""
    stored = _var("demo-api-key")
    with scope.org_scope(org.id):
        if stored.exists():
            prefix = stored.read_text().split("_")[1]
            if ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).exists():
                return stored.read_text().strip()
        project = Project.objects.get(org=org, slug="default")
        scopes = ["decisions.run", "decisions.read", "policy.read", "usage.read", "meter.write", "project.manage",
                  "keys.manage", "members.manage", "audit.read"]
        created = services.apikey_create(project=project, name="demo", scopes=scopes, actor="system:demo_seed")
    stored.write_text(created.secret)
    stored.chmod(0o600)
    return created.secret


def seed_tenancy() -> list[str]:
    import secrets

    password = _secret("demo-password", lambda: "dos-" + secrets.token_urlsafe(9))
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
    path = _var("idp-accounts.json")
    path.write_text(json.dumps(accounts, ensure_ascii=False, indent=1))
    path.chmod(0o600)
    key = _demo_key(acme)
    decide_lines = _demo_policy(acme, key)
    return [
        "Demo logins  (Sign in with SSO on the admin login page; password for all: " + password + ")",
        "  Acme Lending: owner@acme.example, admin@, reviewer@, senior.reviewer@, qa@, auditor@, … @acme.example",
        "  Outsider Co: owner@outsider.example · platform staff: finance@ / ops@decisionos.example",
        f"TOTP (dev)    every demo account shares the key {dev_totp_base32()}",
        "               add it to an authenticator app, or print the current code: .venv/bin/python -m dos.devstack totp",
        f"API key      {key}  (Acme Lending, project default)",
        f"Try it       curl -s -H 'Authorization: Bearer {key}' {settings.DOS_BASE_URL}/api/v1/me",
        *decide_lines,
    ]


def _demo_desk(acme: Org) -> None:
    """Acme's review desk: default queues, a documents queue by rule, the reviewers on it."""
    from hitl.models import Queue
    from hitl.setup import desk_install_defaults, reviewer_profile_save

    queues = desk_install_defaults(org_id=acme.id, actor="system:demo")
    Queue.objects.get_or_create(org_id=acme.id, name="documents", defaults={
        "rank": 10, "routing_rule": '"DOCS_MISSING" in reason_codes', "sla_policy": queues["review"].sla_policy,
        "overflow_queue": queues["burst"], "description": "Applications with missing documents."})
    reviewer_profile_save(org_id=acme.id, user=User.objects.get(email="reviewer@acme.example"), weight=2,
                          actor="system:demo")
    reviewer_profile_save(org_id=acme.id, user=User.objects.get(email="senior.reviewer@acme.example"),
                          skills=["senior"], weight=1, actor="system:demo")


def _demo_cases(acme: Org, project: Project) -> None:
    """A few applications that need a person, so the inbox has work on first start (once)."""
    from decisions.services import decision_make
    from hitl.models import Case

    if Case.objects.exists():
        return
    base = {"age": 35, "income_monthly": 3500000, "dsr": 32.0, "credit_score": 720, "employment_months": 36,
            "delinquencies_12m": 0, "documents_missing": [], "consent_credit_check": True, "loan_amount": 30000000,
            "product": "personal"}
    for n, changes in enumerate(({"documents_missing": ["income_proof"]}, {"credit_score": 650},
                                 {"documents_missing": ["id_card"], "loan_amount": 80000000}, {"credit_score": 640})):
        decision_make(org=acme, project=project, subject_id=f"demo-lead-{n + 1:04d}", purpose="loan_screening",
                      data={**base, **changes}, actor="system:demo")


def _demo_policy(acme: Org, key: str) -> list[str]:
    """Install and publish the lending pack for Acme (author: owner, approver: senior reviewer)."""
    from decisions.packs.install import pack_install
    from tenancy.principals import member_principal

    with scope.org_scope(acme.id):
        project = Project.objects.get(org=acme, slug="default")
        author = member_principal(acme, "owner@acme.example")
        approver = member_principal(acme, "senior.reviewer@acme.example")
        versions = pack_install(project=project, domain="lending_brokerage", author=author, approver=approver)
        published = ", ".join(f"{v.policy_set.name} {v.semver} ({v.status})" for v in versions)
        _demo_desk(acme)
        _demo_cases(acme, project)
    body = ('{"subject_id": "lead-0001", "purpose": "loan_screening", "input": {"age": 35, '
            '"income_monthly": 3500000, "dsr": 48.5, "credit_score": 720, "employment_months": 36, '
            '"delinquencies_12m": 0, "documents_missing": [], "consent_credit_check": true, '
            '"loan_amount": 30000000, "product": "personal"}}')
    return [
        f"Policy       {published}",
        f"Decide       curl -s -X POST -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
        f"{settings.DOS_BASE_URL}/api/v1/decide -d '{body}'",
    ]
