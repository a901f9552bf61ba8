"""Demo seed for `make run`: the kernel's own step (a break-glass superuser) and the steps each app
registers on ``demo_steps`` in its ``AppConfig.ready()`` (ordered by their rank). Each step is
idempotent and returns banner lines."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from dos.hooks import Hook

BREAK_GLASS_EMAIL = "breakglass@decisionos.local"

# Handlers are ``(rank, step)`` pairs: tenancy 10 (orgs, people, key), decisions 20 (policy),
# hitl 30 (desk, first cases).
demo_steps = Hook("dos.demo_steps")


def stored_secret(name: str, make=lambda: secrets.token_urlsafe(18)) -> str:
    """A development secret kept in ``var/`` (0600), made once."""
    path = Path(settings.VAR_DIR) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def dev_totp_key_hex() -> str:
    """The one TOTP key every demo account shares (development only)."""
    return stored_secret("demo-totp-key", lambda: secrets.token_hex(20))


def dev_totp_base32() -> str:
    return base64.b32encode(bytes.fromhex(dev_totp_key_hex())).decode().rstrip("=")


def dev_totp_device(user) -> None:
    """Give ``user`` the shared demo authenticator (confirmed), correcting a stale key."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=user, name="Dev authenticator",
                                                 defaults={"key": dev_totp_key_hex(), "confirmed": True})
    if device.key != dev_totp_key_hex():
        device.key = dev_totp_key_hex()
        device.save(update_fields=["key"])


def seed_break_glass() -> list[str]:
    """A local superuser for emergencies (password login). Browser users come through OIDC."""
    User = get_user_model()
    password = stored_secret("demo-breakglass-password")
    user, _ = User.objects.get_or_create(
        email=BREAK_GLASS_EMAIL, defaults={"is_staff": True, "is_superuser": True, "full_name": "Break-glass admin"}
    )
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    dev_totp_device(user)
    return [f"Break-glass  {BREAK_GLASS_EMAIL} / {password}  (password + TOTP, superuser only)"]


def run_seed_steps() -> list[str]:
    lines = seed_break_glass()
    for _rank, step in sorted(demo_steps.handlers, key=lambda pair: pair[0]):
        lines.extend(step())
    return lines
