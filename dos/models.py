"""Core tables: the hash-chained ledger (audit, decisions, billing chains) and idempotency keys."""

from django.db import models
from django.utils import timezone

from dos.rls import TenantModel


class ChainHead(TenantModel):
    """The tip of one chain of one org; appends lock this row (SELECT … FOR UPDATE)."""

    chain = models.CharField(max_length=32)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "chain"], name="chainhead_org_chain_uniq")]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq}"


class LedgerEntry(TenantModel):
    """One append-only entry. A database trigger refuses UPDATE and DELETE."""

    id = models.BigAutoField(primary_key=True)
    chain = models.CharField(max_length=32)
    seq = models.BigIntegerField()
    action = models.CharField(max_length=64)
    actor = models.CharField(max_length=120, help_text="user:<email>, apikey:<prefix>, system:<job>")
    target = models.CharField(max_length=200, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    corr_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    content_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-id"]
        verbose_name = "audit event"
        verbose_name_plural = "audit events"
        constraints = [models.UniqueConstraint(fields=["org", "chain", "seq"], name="ledger_org_chain_seq_uniq")]
        indexes = [
            models.Index(fields=["org", "chain", "created_at"], name="ledger_org_chain_created_idx"),
            models.Index(fields=["org", "chain", "action"], name="ledger_org_chain_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.action}"


class ChainAnchor(TenantModel):
    """A chain head recorded by the daily anchor job; append-only like the entries."""

    chain = models.CharField(max_length=32)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    anchored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-anchored_at"]
        indexes = [models.Index(fields=["org", "chain", "anchored_at"], name="anchor_org_chain_idx")]


class IdempotencyKey(TenantModel):
    """A write that carried Idempotency-Key; the stored response is replayed for retries."""

    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "key"], name="idem_org_key_uniq")]
        indexes = [models.Index(fields=["org", "created_at"], name="idem_org_created_idx")]


class OutboxEvent(TenantModel):
    """An event for other parts of the system, written in the same transaction as the change it
    announces; ``dos.outbox.outbox_drain`` delivers it to the handlers registered for its topic.

    ``topic``, ``key``, ``payload`` and ``created_at`` are what happened and never change (a trigger
    refuses it); the delivery columns (``status`` … ``delivered_at``) are the dispatcher's."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        DEAD = "dead", "dead (gave up)"

    id = models.BigAutoField(primary_key=True)
    topic = models.CharField(max_length=64, help_text="e.g. decision.finalized")
    key = models.CharField(max_length=100, help_text="What the event is about, e.g. decision:<id>.")
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="Deliveries tried so far.")
    next_attempt_at = models.DateTimeField(default=timezone.now, help_text="Not tried again before this time.")
    last_error = models.TextField(blank=True, default="", help_text="The last handler failure (masked).")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "outbox event"
        indexes = [
            # What a drain picks: due pending events of one org, oldest first.
            models.Index(fields=["org", "next_attempt_at", "id"], condition=models.Q(status="pending"),
                         name="outbox_org_due_idx"),
            models.Index(fields=["org", "status", "topic", "id"], name="outbox_org_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.key}"


class OrgCounter(TenantModel):
    """The last number an org handed out in one series (case numbers, invoice numbers): user-visible
    numbers count per org, not from a global sequence (see ``dos.counters``). The primary key is
    ``(org_id, name)``: a row exists only to be locked and advanced."""

    pk = models.CompositePrimaryKey("org_id", "name")
    name = models.CharField(max_length=40, help_text="The series, e.g. hitl.case.")
    value = models.BigIntegerField(default=0, help_text="The last number handed out.")

    class Meta:
        verbose_name = "org counter"

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"
