from django.db import models


class OrgStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESTRICTED = "restricted", "Restricted"
    FROZEN = "frozen", "Frozen (read-only)"
    SUSPENDED = "suspended", "Suspended"


class EnvironmentKind(models.TextChoices):
    DEV = "dev", "Development"
    STAGE = "stage", "Staging"
    PROD = "prod", "Production"


class OrgRole(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    SECURITY_ADMIN = "security_admin", "Security admin"
    BILLING_ADMIN = "billing_admin", "Billing admin"
    PROJECT_ADMIN = "project_admin", "Project admin"
    AGENT = "agent", "Agent"
    REVIEWER = "reviewer", "Reviewer"
    SENIOR_REVIEWER = "senior_reviewer", "Senior reviewer"
    QA = "qa", "QA"
    OPS_ADMIN = "ops_admin", "Ops admin"
    AUDITOR = "auditor", "Auditor"
    READ_ONLY = "read_only", "Read only"
    PRIVACY_OFFICER = "privacy_officer", "Privacy officer"
    DATA_STEWARD = "data_steward", "Data steward"


class PlatformRoleName(models.TextChoices):
    FINANCE = "platform_finance", "Platform finance"
    OPS = "platform_ops", "Platform ops"
    SUPPORT = "platform_support", "Platform support"


class GrantEffect(models.TextChoices):
    ALLOW = "allow", "Allow"
    DENY = "deny", "Deny"


class GrantScope(models.TextChoices):
    ORG = "org", "Whole org"
    PROJECT = "project", "One project"
    ENV = "env", "One environment"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
