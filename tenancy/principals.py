"""Who is calling: an API key or a signed-in user acting in one org. Both offer the same face to
the API layer: ``has_perm``, ``enter_scope`` and an ``audit_label`` for the chain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from dos import scope


@dataclass
class ApiKeyPrincipal:
    key: object  # tenancy.models.ApiKey
    org: object
    project: object | None = None  # the key's active project (or the org's default); None if archived
    is_authenticated: bool = True
    kind: str = "api_key"
    platform: bool = False

    @property
    def org_id(self) -> uuid.UUID:
        return self.org.id

    @property
    def project_id(self) -> uuid.UUID:
        return self.key.project_id

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset(self.key.scopes)

    def has_perm(self, perm: str) -> bool:
        return perm in self.key.scopes

    def enter_scope(self) -> None:
        scope.enter_org_scope(self.org_id)

    def audit_label(self) -> str:
        return f"apikey:{self.key.prefix}"

    @property
    def user(self):
        return self.key.created_by


@dataclass
class UserPrincipal:
    user: object
    org: object
    permissions: frozenset[str] = field(default_factory=frozenset)
    project_id: uuid.UUID | None = None
    is_authenticated: bool = True
    kind: str = "user"
    platform: bool = False

    @property
    def org_id(self) -> uuid.UUID:
        return self.org.id

    def has_perm(self, perm: str) -> bool:
        return perm in self.permissions

    def enter_scope(self) -> None:
        scope.enter_org_scope(self.org_id)

    def audit_label(self) -> str:
        return f"user:{self.user.pk}"


def active_project(principal):
    """The project a call acts in: API-key authentication loaded it (the key's, or the org's
    default); a browser session acts in its chosen project or the org's default one.
    400 ``validation_error`` on ``project`` when there is no active one."""
    from dos.errors import field_error
    from tenancy.models import Project

    project = getattr(principal, "project", None)
    if project is None and getattr(principal, "kind", "") != "api_key":
        project_id = getattr(principal, "project_id", None)  # admin sessions work in the default project
        chosen = {"id": project_id} if project_id else {"slug": "default"}
        project = Project.objects.filter(org_id=principal.org_id, archived_at__isnull=True, **chosen).first()
    if project is None:
        raise field_error("project", "This credential has no active project.")
    return project


def member_principal(org, email: str, *, project_id: uuid.UUID | None = None) -> UserPrincipal:
    """A member of ``org`` acting through ``dosctl --as EMAIL``: the same principal a browser
    session would have, so the shell can do exactly what the person can do in the back office.
    Raises LookupError when the address is not a member. Runs in the org's scope."""
    from django.contrib.auth import get_user_model

    from tenancy.models import Membership
    from tenancy.permissions import user_permissions

    user = get_user_model().objects.filter(email__iexact=(email or "").strip()).first()
    if user is None or not Membership.objects.filter(org_id=org.id, user=user).exists():
        raise LookupError(f"{email} is not a member of {org.slug}.")
    return UserPrincipal(user=user, org=org, permissions=user_permissions(user, org.id, project_id),
                         project_id=project_id)


def command_actor(org, email: str | None):
    """Who a ``dosctl`` command acts as: ``--as EMAIL`` is that member with their permissions; without
    it, the operator at the shell (``system:dosctl`` — whoever runs dosctl holds the database
    credentials already, and is named on the audit chain as such)."""
    from django.core.management.base import CommandError

    from dos.authz import system_actor

    if not email:
        return system_actor("dosctl")
    try:
        return member_principal(org, email)
    except LookupError as exc:
        raise CommandError(str(exc)) from None
