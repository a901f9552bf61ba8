"""Privacy models, one module per area (vault, consent, discovery, dsar, retention)."""

from privacy.models.vault import KekRotation, RotationStatus, SubjectKey  # noqa: F401
from privacy.models.consent import Consent, ConsentEvent, ConsentEventKind, LawfulBasis  # noqa: F401
from privacy.models.settings import ConsentMode, PrivacySettings  # noqa: F401
