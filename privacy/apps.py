"""Consent, the PII vault, discovery and masking, DSAR, retention and legal hold.

Stands on: dos, tenancy.
"""

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Vault v2 (ADR 0015): the implementation behind dos.vault, and decision replay told of erasure.
        from privacy.vault.hooks import register_vault_hooks

        register_vault_hooks()

        # Consent (ADR 0016): the policy enforcement point of /decide and /decide/batch.
        from decisions.hooks import consent_check
        from privacy.consent import consent_verdicts

        consent_check.register(consent_verdicts)
