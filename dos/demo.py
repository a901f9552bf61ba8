"""Demo seed steps for `make run`. Each step is idempotent and returns banner lines."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

BREAK_GLASS_EMAIL = "breakglass@decisionos.local"


def _stored_secret(name: str) -> str:
    path = Path(settings.VAR_DIR) / f"demo-{name}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


def seed_break_glass() -> list[str]:
    """A local superuser for emergencies (password login). Browser users come through OIDC."""
    User = get_user_model()
    password = _stored_secret("breakglass-password")
    user, _ = User.objects.get_or_create(
        email=BREAK_GLASS_EMAIL, defaults={"is_staff": True, "is_superuser": True, "full_name": "Break-glass admin"}
    )
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tenancy.demo import dev_totp_key_hex

    TOTPDevice.objects.update_or_create(user=user, name="Dev authenticator",
                                        defaults={"key": dev_totp_key_hex(), "confirmed": True})
    return [f"Break-glass  {BREAK_GLASS_EMAIL} / {password}  (password + TOTP, superuser only)"]


def _tenancy() -> list[str]:
    from tenancy.demo import seed_tenancy

    return seed_tenancy()


SEED_STEPS: list[Callable[[], list[str]]] = [seed_break_glass, _tenancy]


def run_seed_steps() -> list[str]:
    lines: list[str] = []
    for step in SEED_STEPS:
        lines.extend(step())
    return lines
