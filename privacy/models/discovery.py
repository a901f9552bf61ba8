"""PII discovery: a scan of a dataset or an uploaded CSV (a sample of each column), and its findings —
the kind of personal data a column holds, with a confidence and masked examples, and the tags
proposed for it (``pii``, ``sensitivity`` P0–P3) until a data steward confirms or rejects them. The
catalog picks confirmed tags up from here."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dos.citus import TenantForeignKey
from dos.rls import TenantModel
from privacy.models.retention import Sensitivity


class FindingStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    CONFIRMED = "confirmed", _("Confirmed")
    REJECTED = "rejected", _("Rejected")


class DiscoveryScan(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.CharField(_("dataset"), max_length=200, help_text=_("The dataset's name, or the file's."))
    source = models.CharField(_("source"), max_length=20, default="upload")
    rows_seen = models.PositiveIntegerField(_("rows read"), default=0)
    sample_size = models.PositiveIntegerField(_("sample per column"), default=1000)
    columns = models.JSONField(_("columns"), default=list)
    created_at = models.DateTimeField(_("scanned"), default=timezone.now, editable=False)
    created_by = models.CharField(_("scanned by"), max_length=160)

    class Meta:
        verbose_name = _("discovery scan")
        verbose_name_plural = _("discovery scans")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "created_at"], name="discoveryscan_org_created_idx")]

    def __str__(self) -> str:
        return f"{self.dataset} ({self.created_at:%Y-%m-%d %H:%M})"


class DiscoveryFinding(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    scan = TenantForeignKey(DiscoveryScan, on_delete=models.CASCADE, related_name="findings", db_index=False)
    dataset = models.CharField(_("dataset"), max_length=200)
    column = models.CharField(_("column"), max_length=200)
    pii_type = models.CharField(_("kind of data"), max_length=20)
    confidence = models.DecimalField(_("confidence"), max_digits=4, decimal_places=3)
    hits = models.PositiveIntegerField(_("matching values"))
    sampled = models.PositiveIntegerField(_("values sampled"))
    examples = models.JSONField(_("examples (masked)"), default=list)
    proposed_pii = models.BooleanField(_("proposed: personal data"), default=True)
    proposed_sensitivity = models.CharField(_("proposed sensitivity"), max_length=2, choices=Sensitivity.choices)
    status = models.CharField(_("status"), max_length=10, choices=FindingStatus.choices,
                              default=FindingStatus.PROPOSED)
    pii = models.BooleanField(_("personal data"), null=True, blank=True, help_text=_("As confirmed."))
    sensitivity = models.CharField(_("sensitivity"), max_length=2, choices=Sensitivity.choices, blank=True,
                                   help_text=_("As confirmed."))
    reviewed_by = models.CharField(_("reviewed by"), max_length=160, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("discovery finding")
        verbose_name_plural = _("discovery findings")
        ordering = ["dataset", "column", "-confidence"]
        indexes = [
            models.Index(fields=["org", "scan"], name="finding_org_scan_idx"),
            models.Index(fields=["org", "status", "dataset"], name="finding_org_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["org", "scan", "column", "pii_type"], name="finding_org_scan_col_uniq"),
            models.CheckConstraint(condition=models.Q(confidence__gte=0, confidence__lte=1),
                                   name="finding_confidence_range"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset}.{self.column}: {self.pii_type}"
