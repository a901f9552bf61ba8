"""Demo seed for `make run`: the kernel's own step (a break-glass superuser) and the steps each app
registers on ``demo_steps`` in its ``AppConfig.ready()`` (ordered by their rank). Each step is
idempotent, repairs what tenants did to the demo data it owns, and returns banner lines.

The seed must never stop the product from starting: a step that still fails is rolled back and
skipped with a one-line warning (on stderr and in the banner)."""

from __future__ import annotations

import base64
import secrets
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from dos.files import write_private
from dos.hooks import Hook

BREAK_GLASS_EMAIL = "breakglass@decisionos.local"

# Handlers are ``(rank, step)`` pairs: tenancy 10 (orgs, people, key), privacy 15 (consents), decisions 20 (policy),
# hitl 30 (desk, first cases).
demo_steps = Hook("dos.demo_steps")


def stored_secret(name: str, make=lambda: secrets.token_urlsafe(18)) -> str:
    """A development secret kept in ``var/`` (0600), made once (again if the file is empty)."""
    path = Path(settings.VAR_DIR) / name
    value = path.read_text().strip() if path.exists() else ""
    if not value:
        value = make()
        write_private(path, value)
    return value


def demo_warn(message: str) -> str:
    """Say in one line what the seed repaired or skipped; the line goes into the banner too."""
    line = f"! demo seed: {message}"
    print(line, file=sys.stderr, flush=True)
    return line


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
    lines: list[str] = []
    steps = [seed_break_glass] + [step for _rank, step in sorted(demo_steps.handlers, key=lambda pair: pair[0])]
    for step in steps:
        try:
            with transaction.atomic():
                lines.extend(step())
        except Exception as exc:  # noqa: BLE001 - the demo data must never keep the product from starting
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            lines.append(demo_warn(f"{step.__module__}.{step.__name__} skipped ({type(exc).__name__}: {first})"))
    return lines
