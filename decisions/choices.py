from django.db import models


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class Outcome(models.TextChoices):
    APPROVE = "approve", "Approve"
    DENY = "deny", "Deny"
    REVIEW = "review", "Review"


class RecordKind(models.TextChoices):
    ORIGINAL = "original", "Original"
    OVERRIDE = "override", "Override"
