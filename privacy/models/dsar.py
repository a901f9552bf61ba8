"""Data subject requests (DSAR): the request, its per-step checkpoints, its timeline and its export.

The pipeline (``privacy.dsar.pipeline``) is a state machine stored here: ``state`` names the step the
request is at; finishing a step inserts its ``DsarStep`` checkpoint and moves ``state`` in the same
transaction as the step's effect, so a job killed at any point either finds the step done (and moves
on) or not done at all (and runs it again, whole). Checkpoints and timeline entries are append-only.
"""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dos.citus import TenantForeignKey
from dos.rls import TenantModel


class DsarKind(models.TextChoices):
    ACCESS = "access", _("Access (a copy of their data)")
    RECTIFICATION = "rectification", _("Rectification (correct their data)")
    ERASURE = "erasure", _("Erasure (delete their data)")
    RESTRICTION = "restriction", _("Restriction (stop processing)")


class DsarState(models.TextChoices):
    INTAKE = "intake", _("Intake")
    VERIFY = "verify", _("Identity verification")
    SCOPE = "scope", _("Scope")
    COLLECT = "collect", _("Collect")
    REDACT = "redact", _("Redact")
    EXPORT = "export", _("Export")
    FULFIL = "fulfil", _("Fulfil")
    DONE = "done", _("Done")
    REJECTED = "rejected", _("Rejected")


STEPS = ("intake", "verify", "scope", "collect", "redact", "export", "fulfil")
OPEN_STATES = STEPS


class VerificationMethod(models.TextChoices):
    ACCOUNT = "account", _("Signed-in customer account")
    DOCUMENT = "document", _("Identity document checked")
    KYC_LITE = "kyc_lite", _("KYC-lite: known details matched")
    AGENT = "agent", _("Authorised agent with a mandate")


class DsarRequest(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=DsarKind.choices)
    state = models.CharField(max_length=10, choices=DsarState.choices, default=DsarState.INTAKE)
    subject_token = models.CharField(max_length=80, help_text=_("vt_… token of the subject; never the raw id."))
    subject_hint = models.CharField(max_length=80, blank=True, help_text=_("The subject's id, masked."))
    channel = models.CharField(max_length=16, default="api", help_text=_("api, admin or dosctl"))
    requested_by = models.CharField(max_length=160, help_text=_("Who recorded the request (actor label)."))
    details = models.JSONField(default=dict, blank=True,
                               help_text=_("What the subject asked for (masked); rectification: the fields named."))
    details_sealed = models.TextField(blank=True, editable=False,
                                        help_text=_("The subject's own words and corrections, sealed."))
    received_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(help_text=_("The deadline from the org's privacy settings."))
    target_at = models.DateTimeField(help_text=_("The team's internal target."))
    warn_at = models.DateTimeField(help_text=_("When the deadline warning fires."))
    warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    verified_by = models.ForeignKey("tenancy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    db_index=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_method = models.CharField(max_length=16, choices=VerificationMethod.choices, blank=True)
    approval = TenantForeignKey("tenancy.ApprovalRequest", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+", db_index=False,
                                help_text=_("Erasure: the second person's approval (four eyes)."))
    scope = models.JSONField(default=dict, blank=True, help_text=_("Collectors, holds and obligations in scope."))
    working_sealed = models.TextField(blank=True, editable=False,
                                        help_text=_("The collected data between steps, sealed; dropped when done."))
    result = models.JSONField(default=dict, blank=True, help_text=_("What was done, and what was kept and why."))
    attempts = models.PositiveIntegerField(default=0, help_text=_("Pipeline runs started (redeliveries included)."))
    last_error = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    rejected_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["due_at"]
        verbose_name = _("data subject request")
        verbose_name_plural = _("data subject requests")
        indexes = [
            models.Index(fields=["org", "state", "due_at"], name="dsar_org_state_due_idx"),
            models.Index(fields=["org", "subject_token"], name="dsar_org_subject_idx"),
            models.Index(fields=["org", "warn_at"], name="dsar_org_warn_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.get_kind_display()})"

    @property
    def reference(self) -> str:
        return f"DSAR-{str(self.id)[:8].upper()}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class DsarStep(TenantModel):
    """The checkpoint of one finished step: written in the step's own transaction, never changed."""

    id = models.BigAutoField(primary_key=True)
    request = TenantForeignKey(DsarRequest, on_delete=models.PROTECT, related_name="steps", db_index=False)
    step = models.CharField(max_length=10)
    attempt = models.PositiveIntegerField(help_text=_("The pipeline run that finished it."))
    result = models.JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["completed_at", "id"]
        constraints = [models.UniqueConstraint(fields=["org", "request", "step"], name="dsarstep_org_request_step_uniq")]

    def __str__(self) -> str:
        return f"{self.step} ✓"


class DsarEvent(TenantModel):
    """The request's timeline: intake, verification, approvals, steps, warnings, fulfilment."""

    id = models.BigAutoField(primary_key=True)
    request = TenantForeignKey(DsarRequest, on_delete=models.PROTECT, related_name="events", db_index=False)
    kind = models.CharField(max_length=32)
    actor = models.CharField(max_length=160)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["org", "request", "at"], name="dsarevent_org_request_idx")]

    def __str__(self) -> str:
        return self.kind


class DsarExport(TenantModel):
    """``subject_export.zip`` of a request — exactly one per request (the constraint says so)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = TenantForeignKey(DsarRequest, on_delete=models.PROTECT, related_name="+", db_index=False)
    archive_sealed = models.TextField(editable=False, help_text=_("The zip, sealed by the vault."))
    sha256 = models.CharField(max_length=64, help_text=_("sha256 of the zip as handed over."))
    size = models.PositiveIntegerField()
    sections = models.JSONField(default=dict, help_text=_("Rows per section."))
    created_at = models.DateTimeField(default=timezone.now)
    downloads = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["org", "request"], name="dsarexport_org_request_uniq")]

    def __str__(self) -> str:
        return f"subject_export.zip ({self.size} bytes)"
