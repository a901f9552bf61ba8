from django.db import models


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    PENDING = "pending", "Pending (back in work)"
    AWAITING_DOCS = "awaiting_docs", "Awaiting documents"
    ESCALATED = "escalated", "Escalated"
    CLOSED = "closed", "Closed"


class Priority(models.TextChoices):
    P0 = "p0", "P0 — urgent"
    P1 = "p1", "P1 — high"
    P2 = "p2", "P2 — normal"
    P3 = "p3", "P3 — low"


class CaseAction(models.TextChoices):
    APPROVE = "approve", "Approve"
    DENY = "deny", "Deny"
    REQUEST_DOCS = "request_docs", "Request documents"
    ESCALATE = "escalate", "Escalate"
    COMMENT = "comment", "Comment"
    CLOSE = "close", "Close"
    OVERRIDE = "override", "Override"


class TaskKind(models.TextChoices):
    REVIEW = "review", "Review"
    QA = "qa", "QA"
    REQUEST_DOCS = "request_docs", "Request documents"
    CALL = "call", "Call"
    VERIFY = "verify", "Verify"


class TaskStatus(models.TextChoices):
    READY = "ready", "Ready"
    IN_PROGRESS = "in_progress", "In progress"
    BLOCKED = "blocked", "Blocked"
    DONE = "done", "Done"


class QueueKind(models.TextChoices):
    STANDARD = "standard", "Standard"
    BURST = "burst", "Burst (overflow)"
    SENIOR = "senior", "Senior"


class CaseSource(models.TextChoices):
    DECIDE = "decide", "Decision (require_hitl)"
    API = "api", "Tenant API"
    ADMIN = "admin", "Back office"


class SlaRung(models.TextChoices):
    WARN = "warn", "Warning"
    BREACH = "breach", "Breach"


class AppealStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    RESOLVED = "resolved", "Resolved"
    REJECTED = "rejected", "Rejected"


class AppealResolution(models.TextChoices):
    UPHOLD = "uphold", "Uphold"
    OVERTURN = "overturn", "Overturn"
    PARTIAL = "partial", "Partial"


class ScanStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    OK = "ok", "Clean"
    FLAGGED = "flagged", "Flagged"


# An appeal still being worked: one at a time per case (hitl.appeals), shown with a resolve form.
OPEN_APPEAL_STATUSES = (AppealStatus.SUBMITTED, AppealStatus.IN_REVIEW)
