"""Retention rules, retention runs (dry-run → approval → execution) and legal holds.

A run is planned from the rules (a dry-run: what each rule would touch, what holds spare), approved by
someone other than its proposer who holds ``retention.approve``, and executed in batches with a
cursor per rule, legal holds re-checked at execution time. Rows spared by a hold are not lost: the
next run after the hold is released finds them again (they are still past their cutoff).
"""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dos.citus import TenantForeignKey
from dos.rls import TenantModel


class Sensitivity(models.TextChoices):
    P0 = "P0", _("P0 — special category / identifiers")
    P1 = "P1", _("P1 — personal")
    P2 = "P2", _("P2 — internal")
    P3 = "P3", _("P3 — public")


class RetentionAction(models.TextChoices):
    DELETE = "delete", _("Delete")
    ANONYMIZE = "anonymize", _("Anonymize (drop personal values, keep the row)")
    TOKENIZE = "tokenize", _("Tokenize (crypto-shred the subject's key)")


class ChainTreatment(models.TextChoices):
    RETAIN = "retain", _("Retain (chained: kept whole)")
    CRYPTO_SHRED = "crypto_shred", _("Crypto-shred (chained: row kept, subject key destroyed)")


class RetentionRule(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.CharField(max_length=40, help_text=_("What the rule applies to (privacy.retention datasets)."))
    sensitivity = models.CharField(max_length=2, choices=Sensitivity.choices, default=Sensitivity.P1)
    ttl_days = models.PositiveIntegerField(help_text=_("Rows older than this many days are due."))
    action = models.CharField(max_length=10, choices=RetentionAction.choices)
    chain_treatment = models.CharField(max_length=14, choices=ChainTreatment.choices, blank=True,
                                       help_text=_("Chained datasets: what happens instead of deleting."))
    legal_basis = models.CharField(max_length=200, help_text=_("Why the data is kept this long."))
    active = models.BooleanField(default=True)
    updated_by = models.CharField(max_length=160, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    changes = models.JSONField(default=list, blank=True, help_text=_(
        "Changes since the last executed run that acted on the rule: who (label and person), when, before and "
        "after, and whether it tightened the rule (shorter ttl, delete or crypto-shred turned on). Whoever "
        "made one may not approve the next run (four eyes bound to the rule change)."))

    class Meta:
        ordering = ["dataset"]
        constraints = [models.UniqueConstraint(fields=["org", "dataset"], name="retentionrule_org_dataset_uniq")]

    def __str__(self) -> str:
        return f"{self.dataset}: {self.ttl_days} d → {self.action}"


class RunStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed (dry-run, waiting for approval)")
    APPROVED = "approved", _("Approved")
    EXECUTING = "executing", _("Executing")
    DONE = "done", _("Done")
    REJECTED = "rejected", _("Rejected")
    SUPERSEDED = "superseded", _("Superseded by a newer dry-run")


class RetentionRun(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PROPOSED)
    as_of = models.DateTimeField(help_text=_("The moment cutoffs were computed from."))
    proposed_by = models.ForeignKey("tenancy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    db_index=False)
    proposed_by_label = models.CharField(max_length=160)
    approval = TenantForeignKey("tenancy.ApprovalRequest", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+", db_index=False)
    approved_by = models.ForeignKey("tenancy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    db_index=False)
    approved_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    catch_up_for = TenantForeignKey("LegalHold", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    db_index=False, help_text=_("Proposed because this hold was released."))
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "status", "created_at"], name="retentionrun_org_status_idx")]

    def __str__(self) -> str:
        return f"retention run {self.as_of:%Y-%m-%d} ({self.status})"


class RetentionRunItem(TenantModel):
    """One rule within a run: the dry-run figures, then the execution's progress and cursor."""

    id = models.BigAutoField(primary_key=True)
    run = TenantForeignKey(RetentionRun, on_delete=models.CASCADE, related_name="items", db_index=False)
    rule = TenantForeignKey(RetentionRule, on_delete=models.PROTECT, related_name="+", db_index=False)
    dataset = models.CharField(max_length=40)
    action = models.CharField(max_length=14)
    cutoff = models.DateTimeField(help_text=_("Rows older than this are due."))
    matched = models.PositiveIntegerField(default=0, help_text=_("Dry-run: rows past the cutoff."))
    held = models.PositiveIntegerField(default=0, help_text=_("Dry-run: of those, spared by a legal hold."))
    sample = models.JSONField(default=list, blank=True, help_text=_("Dry-run: the first ids that would change."))
    done = models.PositiveIntegerField(default=0, help_text=_("Execution: rows changed."))
    held_at_execution = models.PositiveIntegerField(default=0, help_text=_("Execution: rows spared by a hold."))
    retained = models.PositiveIntegerField(default=0, help_text=_(
        "Rows kept: chained rows kept whole, or rows the table's purge keeps (usage events a correction points at)."))
    cursor = models.CharField(max_length=64, blank=True, help_text=_("Last primary key handled."))
    rule_changes = models.JSONField(default=list, blank=True, help_text=_(
        "The rule's changes since the last executed run, as they stood when the run was planned."))
    finished = models.BooleanField(default=False)

    class Meta:
        ordering = ["dataset"]
        constraints = [models.UniqueConstraint(fields=["org", "run", "rule"], name="retentionrunitem_org_run_rule_uniq")]

    def __str__(self) -> str:
        return f"{self.dataset}: {self.matched} due"


class HoldScope(models.TextChoices):
    DATASETS = "datasets", _("Datasets")
    SUBJECTS = "subjects", _("Subjects")
    CASES = "cases", _("Cases")


class LegalHold(TenantModel):
    """Stops deletion and modification of what it covers while active (start ≤ now < end, not released)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    scope = models.CharField(max_length=10, choices=HoldScope.choices)
    targets = models.JSONField(help_text=_("Dataset names, subject tokens or case ids."))
    reason = models.CharField(max_length=500)
    reference = models.CharField(max_length=120, blank=True, help_text=_("Matter or court reference."))
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=160, blank=True)
    created_by = models.CharField(max_length=160)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["org", "released_at", "starts_at"], name="legalhold_org_active_idx")]

    def __str__(self) -> str:
        return f"{self.get_scope_display()}: {self.reason[:60]}"
