"""What the vault plugs into the apps below privacy (called from ``PrivacyConfig.ready()``)."""

from __future__ import annotations


def _decision_subject_erased(record) -> bool:
    from privacy.vault.services import is_erased

    return is_erased(org_id=record.org_id, subject_token=record.subject_token)


def register_vault_hooks() -> None:
    from decisions.hooks import subject_erased
    from dos.vault import register_vault
    from privacy.vault import rotation  # noqa: F401 - registers the rotation task with Celery
    from privacy.vault.services import VAULT

    register_vault(VAULT)
    subject_erased.register(_decision_subject_erased)
