"""Sign-ins, sign-in failures and second-factor steps on the audit chain.

An event is written to the chain of every org the person belongs to (so each tenant's auditors see
their staff's sign-ins) and, for platform staff or unknown accounts, to the platform chain.
Unknown e-mail addresses are recorded as a hash, never in clear.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.dispatch import receiver

from dos import scope
from dos.audit import audit_record
from dos.canonical import sha256_hex
from tenancy.models import PLATFORM_ORG_ID, Membership, platform_org_ensure


def _orgs_of(user) -> list:
    scope.reveal_for_user(user.pk)
    return list(Membership.unscoped_objects.across_orgs().filter(user=user).values_list("org_id", flat=True).distinct())


def audit_auth_event(*, user, action: str, request=None, data: dict | None = None) -> None:
    # The chain's front door writes the address as each org's audit_ip_mode says (dos.audit).
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    with transaction.atomic():
        org_ids = _orgs_of(user) if user is not None and user.pk else []
        if not org_ids or (user is not None and (user.is_superuser or user.platform_roles.exists())):
            org_ids = [*org_ids, PLATFORM_ORG_ID]
        for org_id in org_ids:
            with scope.org_scope(org_id):
                if org_id == PLATFORM_ORG_ID:
                    platform_org_ensure()
                audit_record(org_id=org_id, action=action, actor=user, target=f"user:{user.pk}" if user else "",
                             data=data, ip=ip)


@receiver(user_logged_in)
def _on_login(sender, request, user, **kwargs):
    backend = getattr(user, "backend", "") or ""
    method = "oidc" if "oidc" in backend.lower() else "password"
    audit_auth_event(user=user, action="auth.login", request=request, data={"method": method})


@receiver(user_login_failed)
def _on_login_failed(sender, credentials, request=None, **kwargs):
    email = str(credentials.get("username") or credentials.get("email") or "")
    user = get_user_model().objects.filter(email=email.lower()).first() if email else None
    digest = sha256_hex(email.lower())[:16]
    audit_auth_event(user=user, action="auth.login_failed", request=request, data={"email_sha256": digest})
