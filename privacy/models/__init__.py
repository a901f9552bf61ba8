"""Privacy models, one module per area (vault, consent, discovery, dsar, retention)."""

from privacy.models.consent import Consent, ConsentEvent, ConsentEventKind, LawfulBasis  # noqa: F401
from privacy.models.discovery import DiscoveryFinding, DiscoveryScan, FindingStatus  # noqa: F401
from privacy.models.dsar import DsarEvent, DsarExport, DsarKind, DsarRequest, DsarState, DsarStep, VerificationMethod  # noqa: F401
from privacy.models.retention import (  # noqa: F401
    ChainTreatment,
    HoldScope,
    LegalHold,
    RetentionAction,
    RetentionRule,
    RetentionRun,
    RetentionRunItem,
    RunStatus,
    Sensitivity,
)
from privacy.models.settings import ConsentMode, PrivacySettings  # noqa: F401
from privacy.models.vault import KekRotation, RotationStatus, SubjectKey  # noqa: F401
