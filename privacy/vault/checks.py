"""Start-up check: in production the KEK keystore (or KMS adapter) must load — present, mode 0400,
owned by the service user, well-formed. ``manage.py migrate`` (the compose ``migrate`` service every
other service waits for) runs it, so a bad keystore stops the deployment before anything serves."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register("vault")
def keystore_loads(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if settings.DJANGO_ENV != "prod":
        return []  # dev and test create their keystore on first use
    from privacy.vault.keystore import KeystoreError, key_provider

    try:
        key_provider()
    except KeystoreError as exc:
        return [checks.Error(str(exc), hint="See docs/runbooks/vault-keys.md (dosctl vault keystore create).",
                             id="privacy.E001")]
    return []
