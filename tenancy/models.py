"""Identity and tenancy: Org → Project → Environment, memberships, API keys, grants, approvals.

Every table except ``User`` and ``PlatformRole`` is tenant-owned: it carries ``org_id``, and its
row-level security policy comes from the migrations (dos.rls.EnableRLS).
"""

from __future__ import annotations

import ipaddress
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from guardian.models import UserObjectPermissionBase

from dos.audit import PLATFORM_ORG_ID
from dos.citus import TenantForeignKey
from dos.rls import TenantManager, TenantModel
from tenancy.choices import (
    ApprovalStatus,
    EnvironmentKind,
    GrantEffect,
    GrantScope,
    OrgRole,
    OrgStatus,
    PlatformRoleName,
)
from tenancy.roles import PROJECT_OBJECT_PERMISSIONS, object_codename

# PLATFORM_ORG_ID (owns platform-level audit entries; visible in platform scope only) is the kernel's.


def platform_org_ensure() -> None:
    """The platform org's row (created by a migration; restored if a database was flushed)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO tenancy_org (id, slug, name, plan, status, region, ip_allowlist, settings, created_at) "
            "VALUES (%s, '_platform', 'DecisionOS platform', 'enterprise', 'active', 'KR', '[]', '{}', now()) "
            "ON CONFLICT (id) DO NOTHING",
            [str(PLATFORM_ORG_ID)],
        )


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May log in to the admin (with TOTP).")
    date_joined = models.DateTimeField(default=timezone.now)
    oidc_subject = models.CharField(max_length=255, blank=True, default="", help_text="'sub' claim of the IdP.")

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class UserSession(models.Model):
    """One signed-in browser session of a person (not tenant-owned: a person may work for several orgs)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="browser_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"], name="usersession_user_created_idx")]

    def __str__(self) -> str:
        return f"{self.user} since {self.created_at:%Y-%m-%d %H:%M}"


def validate_cidrs(value) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of CIDR blocks, e.g. [\"203.0.113.0/24\"].")
    for item in value:
        try:
            ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            raise ValidationError(f"'{item}' is not an IP address or CIDR block.")


class Org(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=32, default="sandbox")
    status = models.CharField(max_length=16, choices=OrgStatus.choices, default=OrgStatus.ACTIVE)
    region = models.CharField(max_length=8, default="KR")
    ip_allowlist = models.JSONField(default=list, blank=True, validators=[validate_cidrs],
                                    help_text="CIDR blocks API keys may call from; empty allows any.")
    settings = models.JSONField(default=dict, blank=True, help_text="Budgets, feature flags, …")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # Its rows are its own org: org-scoped queries name it by primary key (dos.rls.OrgPin).
    ORG_FIELD = "id"

    objects = TenantManager()
    # Not pinned: a person's org picker reads every org they belong to (the policy's member clause).
    unscoped_objects = models.Manager()

    class Meta:
        ordering = ["name"]
        base_manager_name = "unscoped_objects"

    def __str__(self) -> str:
        return self.name

    @property
    def org_id(self) -> uuid.UUID:
        return self.id

    def ip_allowed(self, ip: str | None) -> bool:
        if not self.ip_allowlist:
            return True
        if not ip:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in ipaddress.ip_network(c, strict=False) for c in self.ip_allowlist)


class Project(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=63, db_index=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["org", "slug"], name="project_org_slug_uniq")]
        indexes = [models.Index(fields=["org", "created_at"], name="project_org_created_idx")]
        permissions = [(object_codename(p), f"{p} on this project") for p in PROJECT_OBJECT_PERMISSIONS]

    def __str__(self) -> str:
        return self.name


class Environment(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = TenantForeignKey(Project, on_delete=models.CASCADE, related_name="environments", db_index=False)
    kind = models.CharField(max_length=8, choices=EnvironmentKind.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["project", "kind"]
        constraints = [models.UniqueConstraint(fields=["org", "project", "kind"], name="env_org_project_kind_uniq")]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.kind}"


class Membership(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    role = models.CharField(max_length=32, choices=OrgRole.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["user__email", "role"]
        constraints = [models.UniqueConstraint(fields=["org", "user", "role"], name="membership_org_user_role_uniq")]
        indexes = [models.Index(fields=["org", "user"], name="membership_org_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} · {self.role}"


class ProjectMember(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = TenantForeignKey(Project, on_delete=models.CASCADE, related_name="members", db_index=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="project_memberships", db_index=False)
    role = models.CharField(max_length=32, choices=OrgRole.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "project", "user", "role"],
                                               name="projectmember_org_project_user_role_uniq")]


class PlatformRole(models.Model):
    """Platform staff (not tenant-owned): finance, ops, support across every org."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="platform_roles", db_index=False)
    role = models.CharField(max_length=32, choices=PlatformRoleName.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="platformrole_user_role_uniq")]

    def __str__(self) -> str:
        return f"{self.user} · {self.role}"


class ApiKey(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = TenantForeignKey(Project, on_delete=models.PROTECT, related_name="api_keys", db_index=False)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="Public part of the key, shown in lists and logs.")
    secret_hash = models.CharField(max_length=64, help_text="sha256 of the secret; the secret is never stored.")
    scopes = models.JSONField(default=list, help_text="Permission primitives this key may use.")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    created_by_key = TenantForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="minted",
                                      db_index=False, help_text="The key that minted this one; revoking it revokes this.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        constraints = [models.UniqueConstraint(fields=["org", "prefix"], name="apikey_org_prefix_uniq")]
        indexes = [
            models.Index(fields=["org", "project", "created_at"], name="apikey_org_project_idx"),
            models.Index(fields=["org", "created_by_key"], name="apikey_org_minted_by_idx"),
            # The one index not led by org_id: authentication finds a key by the prefix it was
            # presented with, before the org is known (see docs/decisions/0001-rls.md).
            models.Index(fields=["prefix"], name="apikey_prefix_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (dos_{self.prefix}_…)"

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class Grant(TenantModel):
    """A custom allow or deny of one permission for one user; deny always wins."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="grants", db_index=False)
    permission = models.CharField(max_length=64)
    effect = models.CharField(max_length=8, choices=GrantEffect.choices)
    scope = models.CharField(max_length=8, choices=GrantScope.choices, default=GrantScope.ORG)
    project = TenantForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False)
    environment = TenantForeignKey(Environment, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                   db_index=False)
    reason = models.CharField(max_length=300, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "user"], name="grant_org_user_idx")]

    def __str__(self) -> str:
        return f"{self.effect} {self.permission} → {self.user}"


class ApprovalRequest(TenantModel):
    """Four-eyes: an action that needs a second person (tenancy.approvals)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    action = models.CharField(max_length=64, help_text="e.g. policy.publish, vault.unseal, keys.rotate")
    target = models.CharField(max_length=200, help_text="What the action applies to, e.g. policy_version:<id>")
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", db_index=False)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "status", "action"], name="approval_org_status_idx")]

    def __str__(self) -> str:
        return f"{self.action} on {self.target} ({self.status})"


class ProjectUserObjectPermission(UserObjectPermissionBase, TenantModel):
    """A django-guardian object grant: one permission primitive, one person, one project.

    Guardian's generic tables carry no org and so cannot be scoped; this direct table is
    tenant-owned like every other (RLS forced, org-leading indexes).
    """

    # Redeclared without single-column indexes: every index of a tenant table leads with org_id.
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="project_grants", db_index=False)
    permission = models.ForeignKey("auth.Permission", on_delete=models.CASCADE, related_name="+", db_index=False)
    content_object = TenantForeignKey(Project, on_delete=models.CASCADE, related_name="user_grants", db_index=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "project grant"
        unique_together: list = []
        constraints = [models.UniqueConstraint(fields=["org", "content_object", "user", "permission"],
                                               name="projectgrant_org_obj_user_perm_uniq")]
        indexes = [models.Index(fields=["org", "user"], name="projectgrant_org_user_idx")]


class PlanOverride(TenantModel):
    """A platform-approved change to one commercial limit of one org (tenancy.overrides).

    Quotas, entitlements, rate limits and extra Cedar policies come from the plan plus these rows —
    never from ``Org.settings``, which the org edits itself. Rows are written only by
    ``tenancy.overrides.plan_override_set`` for a platform principal; the org may read its own.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=80, help_text="quota.<name>, entitlement.<name>, rate_limit.rps|burst, "
                                                    "soft_ratio, metrics or cedar_policies")
    value = models.JSONField(help_text="The value in force instead of the plan's.")
    previous = models.JSONField(null=True, blank=True, help_text="What was in force before this override was set.")
    reason = models.CharField(max_length=500)
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="After this the plan's value applies again.")

    class Meta:
        ordering = ["key"]
        verbose_name = "plan override"
        constraints = [models.UniqueConstraint(fields=["org", "key"], name="planoverride_org_key_uniq")]

    def __str__(self) -> str:
        return f"{self.key} = {self.value}"

    def in_force(self, now=None) -> bool:
        return self.expires_at is None or self.expires_at > (now or timezone.now())
