"""Reads for tenancy that run before or across scopes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from dos import scope
from tenancy.models import Membership, Org, PlatformRole, Project
from tenancy.permissions import platform_permissions, user_permissions
from tenancy.roles import PERMISSIONS

ACTIVE_ORG_SESSION_KEY = "active_org_id"


@dataclass
class BrowserPrincipal:
    """A signed-in person in the admin: one org, or the whole platform."""

    user: object
    org_id: uuid.UUID | None
    platform: bool
    permissions: frozenset[str] = field(default_factory=frozenset)
    orgs: list[tuple[str, str]] = field(default_factory=list)  # (id, name) the user may switch to
    kind: str = "user"
    is_authenticated: bool = True

    def has_perm(self, perm: str) -> bool:
        return perm in self.permissions

    def audit_label(self) -> str:
        return f"user:{self.user.pk}"


def member_orgs(user) -> list[tuple[str, str]]:
    scope.reveal_for_user(user.pk)
    rows = (Membership.unscoped_objects.across_orgs().filter(user=user).values_list("org_id", "org__name")
            .order_by("org__name").distinct())
    return [(str(org_id), name) for org_id, name in rows]


def browser_principal(request) -> BrowserPrincipal | None:
    """Who is acting in the admin, and where. Must run inside a transaction."""
    user = request.user
    platform_roles = list(PlatformRole.objects.filter(user=user).values_list("role", flat=True))
    if user.is_superuser or platform_roles:
        perms = frozenset(PERMISSIONS) if user.is_superuser else platform_permissions(user)
        return BrowserPrincipal(user=user, org_id=None, platform=True, permissions=perms)
    orgs = member_orgs(user)
    if not orgs:
        return None
    wanted = request.session.get(ACTIVE_ORG_SESSION_KEY)
    org_id = wanted if wanted in {o for o, _ in orgs} else orgs[0][0]
    org_uuid = uuid.UUID(org_id)
    with scope.org_scope(org_uuid):  # read the person's permissions there; the entry point scopes the request
        permissions = user_permissions(user, org_uuid)
    return BrowserPrincipal(user=user, org_id=org_uuid, platform=False, permissions=permissions, orgs=orgs)


def org_name(org_id) -> str:
    org = Org.objects.filter(id=org_id).first()
    return org.name if org else ""


def org_by_slug_or_id(value: str):
    """An org by slug or id (platform scope, audited) — ``--org`` of every dosctl command."""
    with scope.platform_scope(reason=f"dosctl: resolve org '{value[:60]}'"):
        try:
            return Org.unscoped_objects.filter(id=uuid.UUID(value)).first()
        except ValueError:
            return Org.unscoped_objects.filter(slug=value).first()


def project_by_slug_or_id(org, value: str):
    """A project of ``org`` by slug or id (archived ones too) — ``--project`` of every dosctl command."""
    projects = Project.objects.filter(org=org)
    try:
        return projects.filter(id=uuid.UUID(str(value))).first()
    except ValueError:
        return projects.filter(slug=value).first()


def orgs_with_an_audit_chain(org_id=None) -> list[tuple[str, str]]:
    """Every org's audit chain has entries from its creation on (``org.created``): the chains
    ``dos.ledger`` must find, even if their rows were removed wholesale (orgs visible in scope)."""
    from tenancy.models import PLATFORM_ORG_ID

    orgs = Org.unscoped_objects.exclude(id=PLATFORM_ORG_ID)
    if org_id:
        orgs = orgs.filter(id=org_id)
    return [(str(pk), "audit") for pk in orgs.values_list("id", flat=True)]
