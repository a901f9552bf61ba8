"""Human review (SPEC §10): queues and SLA policies, reviewers, cases with their tasks and timeline,
appeals, notes and attachments. Every table is tenant-owned (RLS, org-leading indexes)."""

import uuid

from django.db import models
from django.utils import timezone

from dos.citus import TenantForeignKey
from dos.rls import TenantModel
from hitl.choices import (
    AppealResolution,
    AppealStatus,
    CaseSource,
    CaseStatus,
    Priority,
    QueueKind,
    ScanStatus,
    SlaRung,
    TaskKind,
    TaskStatus,
)


class NextVal(models.Func):
    """nextval() of a named sequence, as a database default. Case numbers came from a global sequence
    until they became per-org counters; the early migrations still name this class."""

    function = "nextval"
    output_field = models.BigIntegerField()

    def __init__(self, sequence: str):
        super().__init__(models.Value(sequence))


DEFAULT_SLA_HOURS = {"p0": 4, "p1": 24, "p2": 48, "p3": 72}


def _default_sla_hours() -> dict:
    return dict(DEFAULT_SLA_HOURS)


def _default_breach_actions() -> list:
    return ["notify", "auto_escalate"]


class SLAPolicy(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=80)
    hours = models.JSONField(default=_default_sla_hours, help_text='Hours to resolve per priority, e.g. {"p1": 24}.')
    warn_ratio = models.DecimalField(max_digits=3, decimal_places=2, default=0.75,
                                     help_text="Warn when this share of the SLA window has passed.")
    breach_actions = models.JSONField(default=_default_breach_actions, help_text="notify and/or auto_escalate")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="slapolicy_org_name_uniq")]

    def __str__(self) -> str:
        return self.name

    def hours_for(self, priority: str) -> int:
        return int((self.hours or {}).get(priority, DEFAULT_SLA_HOURS.get(priority, 48)))


class Queue(TenantModel):
    """Where cases wait. The first active queue (by rank) whose CEL rule matches the case gets it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.SlugField(max_length=64, db_index=False)
    kind = models.CharField(max_length=10, choices=QueueKind.choices, default=QueueKind.STANDARD)
    description = models.CharField(max_length=200, blank=True)
    rank = models.PositiveIntegerField(default=100, help_text="Rules are tried in ascending rank.")
    routing_rule = models.TextField(
        blank=True, help_text="CEL over case attributes (priority, project, product, reason_codes, risk_score); "
                              "blank = only by name (burst, senior, fallback).")
    skills = models.JSONField(default=list, blank=True, help_text="Skills a reviewer needs for this queue.")
    sla_policy = TenantForeignKey(SLAPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  db_index=False)
    overflow_queue = TenantForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                      db_index=False)
    depth_threshold = models.PositiveIntegerField(default=50, help_text="Open cases beyond which new ones overflow.")
    is_fallback = models.BooleanField(default=False, help_text="Takes cases that no rule matched.")
    active = models.BooleanField(default=True)
    rr_cursor = models.PositiveBigIntegerField(default=0, editable=False,
                                               help_text="Weighted round-robin position (routing locks this row).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["rank", "name"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="queue_org_name_uniq")]

    def __str__(self) -> str:
        return self.name


class ReviewerProfile(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey("tenancy.User", on_delete=models.PROTECT, related_name="+", db_index=False)
    skills = models.JSONField(default=list, blank=True)
    weight = models.PositiveSmallIntegerField(default=1, help_text="Share of new cases (weighted round-robin).")
    max_concurrent = models.PositiveSmallIntegerField(default=10, help_text="Open cases owned at most.")
    available = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user__email"]
        constraints = [models.UniqueConstraint(fields=["org", "user"], name="reviewerprofile_org_user_uniq")]

    def __str__(self) -> str:
        return f"{self.user} (w{self.weight}, max {self.max_concurrent})"


class Case(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.BigIntegerField(editable=False, help_text="Human-friendly case number, counted per org.")
    project = TenantForeignKey("tenancy.Project", on_delete=models.PROTECT, related_name="+", db_index=False)
    decision = TenantForeignKey("decisions.DecisionRecord", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+", db_index=False)
    source = models.CharField(max_length=10, choices=CaseSource.choices)
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P2)
    reason_codes = models.JSONField(default=list, blank=True)
    product = models.CharField(max_length=64, blank=True)
    risk_score = models.DecimalField(max_digits=7, decimal_places=3, null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="Masked input summary shown to reviewers.")
    queue = TenantForeignKey(Queue, on_delete=models.PROTECT, related_name="cases", db_index=False)
    owner = models.ForeignKey("tenancy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    created_by = models.ForeignKey("tenancy.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", db_index=False)
    created_by_label = models.CharField(max_length=120, blank=True)
    outcome = models.CharField(max_length=8, blank=True, help_text="approve or deny once decided.")
    decided_by = models.ForeignKey("tenancy.User", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", db_index=False)
    sla_policy = TenantForeignKey(SLAPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  db_index=False)
    warn_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_breached = models.BooleanField(default=False)
    first_picked_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    in_appeal = models.BooleanField(default=False, help_text="An appeal is under way; only the appeal decides.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sla_due_at", "created_at"]
        constraints = [models.UniqueConstraint(fields=["org", "number"], name="case_org_number_uniq")]
        indexes = [
            models.Index(fields=["org", "owner", "status"], name="case_org_owner_status_idx"),
            models.Index(fields=["org", "queue", "status"], name="case_org_queue_status_idx"),
            models.Index(fields=["org", "status", "sla_due_at"], name="case_org_status_due_idx"),
            models.Index(fields=["org", "decision"], name="case_org_decision_idx"),
        ]

    def __str__(self) -> str:
        return f"Case #{self.number}"


class Task(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = TenantForeignKey(Case, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    status = models.CharField(max_length=12, choices=TaskStatus.choices, default=TaskStatus.READY)
    assignee = models.ForeignKey("tenancy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 db_index=False)
    queue = TenantForeignKey(Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    due_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["org", "case"], name="task_org_case_idx"),
                   models.Index(fields=["org", "kind", "status"], name="task_org_kind_status_idx")]


class CaseEvent(TenantModel):
    """The case timeline; each event also lands on the audit chain (ledger_seq)."""

    id = models.BigAutoField(primary_key=True)
    case = TenantForeignKey(Case, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=32)
    actor = models.CharField(max_length=120)
    data = models.JSONField(default=dict, blank=True)
    ledger_seq = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["org", "case", "created_at"], name="caseevent_org_case_idx")]


class SlaMark(TenantModel):
    """One row per (case, rung): the SLA job records each warning and breach exactly once."""

    id = models.BigAutoField(primary_key=True)
    case = TenantForeignKey(Case, on_delete=models.CASCADE, related_name="+", db_index=False)
    rung = models.CharField(max_length=8, choices=SlaRung.choices)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "case", "rung"], name="slamark_org_case_rung_uniq")]


class Notification(TenantModel):
    """In-admin notifications (SLA warnings, assignments) for one person."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey("tenancy.User", on_delete=models.CASCADE, related_name="+", db_index=False)
    case = TenantForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False)
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "user", "read_at"], name="notification_org_user_idx")]


class Appeal(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = TenantForeignKey(Case, on_delete=models.PROTECT, related_name="appeals", db_index=False)
    level = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=AppealStatus.choices, default=AppealStatus.SUBMITTED)
    reason = models.TextField()
    submitted_by = models.CharField(max_length=120)
    assignee = models.ForeignKey("tenancy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 db_index=False)
    original_decider = models.ForeignKey("tenancy.User", null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+", db_index=False,
                                         help_text="Who decided the case before this appeal (never its reviewer).")
    resolution = models.CharField(max_length=10, choices=AppealResolution.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    final_decision = TenantForeignKey("decisions.DecisionRecord", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+", db_index=False,
                                      help_text="The re-issued decision (with its explanation).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["org", "case", "level"], name="appeal_org_case_level_uniq")]


class CaseNote(TenantModel):
    id = models.BigAutoField(primary_key=True)
    case = TenantForeignKey(Case, on_delete=models.CASCADE, related_name="notes", db_index=False)
    author = models.ForeignKey("tenancy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               db_index=False)
    author_label = models.CharField(max_length=120)
    body_md = models.TextField(help_text="Markdown; masked text when the note is redacted.")
    redacted = models.BooleanField(default=False)
    sealed = models.BinaryField(null=True, blank=True, editable=False,
                                help_text="The original of a redacted note, encrypted (AES-GCM) by the vault.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["org", "case"], name="casenote_org_case_idx")]


class Attachment(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = TenantForeignKey(Case, on_delete=models.CASCADE, related_name="attachments", db_index=False)
    name = models.CharField(max_length=200)
    mime = models.CharField(max_length=100, help_text="Sniffed from the content, never taken from the client.")
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField(editable=False)
    scanned = models.CharField(max_length=8, choices=ScanStatus.choices, default=ScanStatus.PENDING)
    scan_detail = models.CharField(max_length=200, blank=True)
    uploaded_by = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["org", "case"], name="attachment_org_case_idx")]
