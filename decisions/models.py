"""Policy sets and versions, decision records."""

import uuid

from django.db import models
from django.utils import timezone

from decisions.choices import Outcome, RecordKind, VersionStatus
from dos.citus import TenantForeignKey
from dos.rls import TenantModel


class PolicySet(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = TenantForeignKey("tenancy.Project", on_delete=models.PROTECT, related_name="policy_sets", db_index=False)
    name = models.SlugField(max_length=64, db_index=False, help_text="The policy's name, e.g. lending_triage.")
    kind = models.CharField(max_length=16, default="decision")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["org", "project", "name"], name="policyset_org_project_name_uniq")]

    def __str__(self) -> str:
        return self.name


class PolicyVersion(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    policy_set = TenantForeignKey(PolicySet, on_delete=models.PROTECT, related_name="versions", db_index=False)
    semver = models.CharField(max_length=32)
    source = models.TextField(help_text="Policy YAML; immutable once submitted.")
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    author = models.ForeignKey("tenancy.User", on_delete=models.PROTECT, related_name="+", db_index=False)
    approver = models.ForeignKey("tenancy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 db_index=False)
    approval = TenantForeignKey("tenancy.ApprovalRequest", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+", db_index=False)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["org", "policy_set", "semver"], name="policyversion_org_set_semver_uniq"),
            # Exactly one published version per set, enforced by the database.
            models.UniqueConstraint(fields=["org", "policy_set"], condition=models.Q(status="published"),
                                    name="policyversion_one_published"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_set.name} {self.semver} ({self.status})"


class DecisionRecord(TenantModel):
    """One decision, as decided. Never updated: an override is a new record of kind override."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = TenantForeignKey("tenancy.Project", on_delete=models.PROTECT, related_name="+", db_index=False)
    policy_version = TenantForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="decisions",
                                      db_index=False)
    policy_sha256 = models.CharField(max_length=64)
    subject_token = models.CharField(max_length=80, help_text="vt_… token of the subject; never the raw id.")
    purpose = models.CharField(max_length=64)
    corr_id = models.CharField(max_length=64, blank=True)
    decided_at = models.DateTimeField(default=timezone.now)
    input_hash = models.CharField(max_length=64, help_text="sha256 of the canonical input as received")
    snapshot = models.JSONField(help_text="The input with personal data masked, for replay and explanation.")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    reason_codes = models.JSONField(default=list)
    rule_path = models.JSONField(default=list)
    scores = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=list, blank=True)
    consent_ref = models.CharField(max_length=80, blank=True, default="")
    latency_ms = models.DecimalField(max_digits=10, decimal_places=3)
    kind = models.CharField(max_length=10, choices=RecordKind.choices, default=RecordKind.ORIGINAL)
    refs = models.JSONField(default=dict, blank=True)
    ledger_seq = models.BigIntegerField(null=True)
    ledger_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-decided_at"]
        indexes = [
            models.Index(fields=["org", "decided_at"], name="decision_org_decided_idx"),
            models.Index(fields=["org", "subject_token"], name="decision_org_subject_idx"),
            models.Index(fields=["org", "outcome", "decided_at"], name="decision_org_outcome_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} {self.id}"


class Simulation(TenantModel):
    """A simulation job: a policy version (drafts included) over a dataset, compared with the champion."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = TenantForeignKey("tenancy.Project", on_delete=models.PROTECT, related_name="+", db_index=False)
    policy_version = TenantForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+", db_index=False)
    champion_version = TenantForeignKey(PolicyVersion, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+", db_index=False)
    dataset = models.CharField(max_length=80, help_text="pack:<domain> or upload")
    input_csv = models.TextField(blank=True, help_text="Uploaded rows (CSV), when dataset is upload.")
    rows_total = models.IntegerField(default=0)
    rows_done = models.IntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    report = models.JSONField(null=True, blank=True)
    report_html = models.TextField(blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    # Where a run killed mid-way carries on (decisions.simulation: totals up to a row), how many
    # times a worker started the job, and the row the latest start resumed from (0: from the top).
    checkpoint = models.JSONField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    resumed_from = models.IntegerField(default=0)
    created_by = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "created_at"], name="simulation_org_created_idx")]

    def __str__(self) -> str:
        return f"simulation {self.id} ({self.status})"

    @property
    def progress_pct(self) -> int:
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0


class ReasonCode(TenantModel):
    """An org's own customer texts for a reason code (system defaults come from the domain packs)."""

    code = models.CharField(max_length=64)
    category = models.CharField(max_length=32, blank=True)
    ko = models.TextField("Korean text")
    en = models.TextField("English text")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["org", "code"], name="reasoncode_org_code_uniq")]

    def __str__(self) -> str:
        return self.code
