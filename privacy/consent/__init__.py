"""Consent and purpose limitation (SPEC §11): the history of consents, the per-org settings, and the
policy enforcement point that /decide and /decide/batch pass through.

What other parts of privacy call:

* ``consent_covering(org_id=, subject_token=, purpose=, at=None)`` — the consent that covers the
  purpose at ``at`` (now by default), or None;
* ``lawful_without_consent(org_id=, purpose=)`` — the lawful basis configured for a purpose that
  needs no consent, or None;
* ``privacy_settings(org_id)`` — the org's settings (unsaved defaults when it never saved any).
"""

from privacy.consent.lookup import consent_covering, consent_verdicts, lawful_without_consent
from privacy.consent.services import (
    CONSENT_EXPIRE,
    CONSENT_GRANT,
    CONSENT_REVOKE,
    ConsentEnded,
    consent_expire_due,
    consent_grant,
    consent_revoke,
    consent_revoke_subject,
    subject_token_of,
)
from privacy.consent.tasks import consent_expire_all  # noqa: F401 - registers the beat task
from privacy.settings import PRIVACY_SETTINGS_SAVE, privacy_settings, privacy_settings_save

__all__ = [
    "CONSENT_EXPIRE", "CONSENT_GRANT", "CONSENT_REVOKE", "PRIVACY_SETTINGS_SAVE", "ConsentEnded", "consent_covering",
    "consent_expire_due", "consent_grant", "consent_revoke", "consent_revoke_subject", "consent_verdicts",
    "lawful_without_consent", "privacy_settings", "privacy_settings_save", "subject_token_of",
]
