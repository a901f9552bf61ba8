"""TOTP enrolment and verification (django-otp), with static backup codes. Every attempt is audited.

A first enrolment (no confirmed authenticator yet) needs a one-time enrolment token sent out of
band — by e-mail to the account's address — so that a hijacked SSO session alone cannot bind an
attacker's authenticator to the account. The token is single-use, expires after
OTP_ENROLMENT_TOKEN_SECONDS, and only its hash is kept (in the cache). An administrator's reset
(``totp_reset``: ``manage.py otp reset``) removes the person's devices and sends a fresh token.
Accounts that already have a confirmed device (the demo seed's shared dev key) never see this step.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

import django_otp
import structlog
from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from dos.canonical import sha256_hex
from tenancy.audit_auth import audit_auth_event

log = structlog.get_logger(__name__)

BACKUP_CODES = 10
SELF_SENDS_PER_HOUR = 5
ENROLMENT_SESSION_KEY = "dos_otp_enrolment_unlocked"
_TOKEN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read from an e-mail, typed by hand


def _token_key(user) -> str:
    return f"dos:otp-enrolment:{user.pk}"


def _token_hash(token: str) -> str:
    normalised = token.strip().upper().replace("-", "").replace(" ", "")
    return sha256_hex(normalised)


def enrolment_token_outstanding(user) -> bool:
    return cache.get(_token_key(user)) is not None


class EnrolmentTokenNotSent(Exception):
    """The set-up code was not sent: too many requests (429), or the mail server refused it (503)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def enrolment_token_issue(*, user, request=None, issued_by: str = "self") -> None:
    """Send the person a fresh one-time enrolment token (replacing any earlier one) by e-mail.

    A person may ask for at most SELF_SENDS_PER_HOUR codes (the page is reachable by anyone holding
    their session: it must not become a mail cannon); administrators' resets are not limited."""
    if issued_by == "self":
        sends_key = f"{_token_key(user)}:sends"
        cache.add(sends_key, 0, timeout=3600)
        if cache.incr(sends_key) > SELF_SENDS_PER_HOUR:
            raise EnrolmentTokenNotSent("Too many set-up codes were sent in the last hour; try again later or ask "
                                        "your administrator for a reset.", 429)
    raw = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(16))  # 80 bits
    token = "-".join(raw[i:i + 4] for i in range(0, 16, 4))
    cache.set(_token_key(user), _token_hash(token), timeout=settings.OTP_ENROLMENT_TOKEN_SECONDS)
    minutes = settings.OTP_ENROLMENT_TOKEN_SECONDS // 60
    try:
        send_mail("[DecisionOS] Your two-step verification set-up code",
                  f"Someone signed in to DecisionOS as {user.email} and is setting up two-step verification.\n\n"
                  f"Set-up code: {token}\n\nIt works once, for {minutes} minutes. If this was not you, do not use "
                  "it and tell your security team.", None, [user.email], fail_silently=False)
    except Exception as exc:
        cache.delete(_token_key(user))
        log.exception("otp.enrolment_token_mail_failed", user_id=str(user.pk))
        raise EnrolmentTokenNotSent("The set-up code could not be e-mailed; try again in a few minutes or ask "
                                    "your administrator.", 503) from exc
    audit_auth_event(user=user, action="auth.otp_enrolment_token_sent", request=request,
                     data={"issued_by": issued_by, "channel": "email"})


def enrolment_token_redeem(request, *, token: str) -> bool:
    """Check the e-mailed token; on success it is spent and this session may enrol an authenticator."""
    user = request.user
    stored = cache.get(_token_key(user))
    # cache.delete answers True for exactly one caller, so two racing redemptions cannot both win.
    ok = bool(token) and stored is not None and hmac.compare_digest(stored, _token_hash(token)) \
        and cache.delete(_token_key(user))
    if ok:
        request.session[ENROLMENT_SESSION_KEY] = str(user.pk)
    audit_auth_event(user=user, action="auth.otp_enrolment_token_used" if ok else "auth.otp_enrolment_token_failed",
                     request=request)
    return bool(ok)


def enrolment_unlocked(request) -> bool:
    return request.session.get(ENROLMENT_SESSION_KEY) == str(request.user.pk)


def totp_reset(*, user, actor, request=None) -> None:
    """An administrator's reset: remove the person's authenticators and backup codes, and e-mail a
    fresh enrolment token. Their next sign-in starts enrolment again."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    audit_auth_event(user=user, action="auth.otp_reset", request=request, data={"by": str(actor)})
    enrolment_token_issue(user=user, request=request, issued_by=str(actor))


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
    if enrolling and not enrolment_unlocked(request):
        audit_auth_event(user=user, action="auth.otp_failed", request=request, data={"reason": "enrolment_locked"})
        return Verified(ok=False)
    if enrolling:
        device = pending_totp(user)
        if token and device.verify_token(token):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            request.session.pop(ENROLMENT_SESSION_KEY, None)
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
