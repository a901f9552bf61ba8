"""TOTP enrolment and verification (django-otp), with static backup codes. Every attempt is audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import django_otp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenancy.audit_auth import audit_auth_event

BACKUP_CODES = 10


@dataclass
class Verified:
    ok: bool
    backup_codes: list[str] = field(default_factory=list)


def confirmed_totp(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_totp(user) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def backup_codes_issue(user) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name="Backup codes")
    device.token_set.all().delete()
    codes = [secrets.token_hex(4) for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def verify_and_login(request, *, token: str, enrolling: bool) -> Verified:
    user = request.user
    if enrolling:
        device = pending_totp(user)
        if token and device.verify_token(token):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            django_otp.login(request, device)
            audit_auth_event(user=user, action="auth.otp_enrolled", request=request)
            return Verified(ok=True, backup_codes=backup_codes_issue(user))
    else:
        device = django_otp.match_token(user, token) if token else None
        if device is not None:
            django_otp.login(request, device)
            audit_auth_event(user=user, action="auth.otp_verified", request=request,
                             data={"device": type(device).__name__})
            return Verified(ok=True)
    audit_auth_event(user=user, action="auth.otp_failed", request=request)
    return Verified(ok=False)
