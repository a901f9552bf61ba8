"""Consent, the PII vault, discovery and masking, DSAR, retention and legal hold.

Stands on: dos, tenancy, billing, decisions, hitl (its jobs are sent by name through celery_app).
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

        # The demo seed of `make run`: the demo applicants' consents, before decisions are made (hitl 30).
        from dos.demo import demo_steps
        from privacy.demo import seed_consents

        demo_steps.register((15, seed_consents))

        # DSAR, retention and legal holds (ADR 0017): privacy's own records in the subject-data
        # registry, and the two four-eyes actions of tenancy.approvals (action → the approver's primitive).
        from dos.subject_data import collector_register
        from privacy.dsar.collectors import subject_consents, subject_requests
        from tenancy.approvals import APPROVAL_ACTIONS

        collector_register("consents", subject_consents, order=40)
        collector_register("privacy_requests", subject_requests, order=50)
        APPROVAL_ACTIONS.setdefault("dsar.erasure", "dsar.fulfil")
        APPROVAL_ACTIONS.setdefault("retention.run", "retention.approve")
        APPROVAL_ACTIONS.setdefault("dsar.export", "dsar.fulfil")  # handing an access export over (four eyes)
        # Decided only by the org's own members (never a platform account): reading personal data,
        # re-keying it, erasing a subject, handing a subject's data over.
        from tenancy.approvals import TENANT_ONLY_ACTIONS

        TENANT_ONLY_ACTIONS.update({"vault.unseal", "keys.rotate", "dsar.erasure", "dsar.export"})
