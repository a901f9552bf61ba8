"""Privacy models, one module per area (vault, consent, discovery, dsar, retention)."""

from privacy.models.vault import KekRotation, RotationStatus, SubjectKey  # noqa: F401
