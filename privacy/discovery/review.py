"""A data steward's word on a finding: confirm the proposed tags (optionally another sensitivity) or
reject them. Once reviewed, a finding stays reviewed; audited."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from dos.audit import actor_label, audit_record
from dos.authz import action, authorize
from dos.errors import DomainError, FieldErrors
from privacy.models import DiscoveryFinding, FindingStatus
from privacy.models.retention import Sensitivity

DISCOVERY_REVIEW = action("discovery.review", "catalog.write")


class FindingReviewed(DomainError):
    status, code = 409, "finding_reviewed"


def finding_review(*, finding: DiscoveryFinding, confirm: bool, actor, sensitivity: str = "",
                   note: str = "") -> DiscoveryFinding:
    actor = authorize(actor, DISCOVERY_REVIEW)
    if sensitivity and sensitivity not in Sensitivity.values:
        raise FieldErrors({"sensitivity": [f"One of: {', '.join(Sensitivity.values)}."]})
    with transaction.atomic():
        finding = DiscoveryFinding.objects.select_for_update().get(org_id=finding.org_id, pk=finding.pk)
        if finding.status != FindingStatus.PROPOSED:
            raise FindingReviewed(f"This finding was {finding.status} by {finding.reviewed_by}.")
        finding.status = FindingStatus.CONFIRMED if confirm else FindingStatus.REJECTED
        finding.pii = bool(confirm)
        finding.sensitivity = (sensitivity or finding.proposed_sensitivity) if confirm else Sensitivity.P3
        finding.reviewed_by, finding.reviewed_at, finding.note = actor_label(actor), timezone.now(), note[:300]
        finding.save(update_fields=["status", "pii", "sensitivity", "reviewed_by", "reviewed_at", "note"])
        audit_record(org_id=finding.org_id, action=f"discovery.{finding.status}", actor=actor,
                     target=f"discovery_finding:{finding.id}", data={
                         "dataset": finding.dataset, "column": finding.column, "pii_type": finding.pii_type,
                         "sensitivity": finding.sensitivity})
    return finding
