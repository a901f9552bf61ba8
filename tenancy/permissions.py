"""Effective permissions: roles (org and project) ∪ allow grants − deny grants (deny wins)."""

from __future__ import annotations

import uuid

from django.db.models import Q
from django.utils import timezone

from tenancy.choices import GrantEffect, GrantScope
from tenancy.models import Grant, Membership, PlatformRole, ProjectMember
from tenancy.roles import PLATFORM_ROLE_PERMISSIONS, permissions_for_roles


def user_roles(user, org_id: uuid.UUID) -> list[str]:
    return list(Membership.objects.filter(org_id=org_id, user=user).values_list("role", flat=True))


def user_permissions(user, org_id: uuid.UUID, project_id: uuid.UUID | None = None) -> frozenset[str]:
    roles = user_roles(user, org_id)
    if project_id:
        roles += list(ProjectMember.objects.filter(org_id=org_id, project_id=project_id, user=user)
                      .values_list("role", flat=True))
    perms = set(permissions_for_roles(roles))
    if project_id:
        perms |= project_object_permissions(user, project_id)
    now = timezone.now()
    grants = Grant.objects.filter(org_id=org_id, user=user).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    applicable = [g for g in grants if g.scope == GrantScope.ORG or (project_id and g.project_id == project_id)]
    perms |= {g.permission for g in applicable if g.effect == GrantEffect.ALLOW}
    perms -= {g.permission for g in applicable if g.effect == GrantEffect.DENY}
    return frozenset(perms)


def platform_permissions(user) -> frozenset[str]:
    out: set[str] = set()
    for role in PlatformRole.objects.filter(user=user).values_list("role", flat=True):
        out |= PLATFORM_ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(out)


def project_object_permissions(user, project_id) -> set[str]:
    """Primitives granted to ``user`` on this one project through django-guardian."""
    from guardian.core import ObjectPermissionChecker

    from tenancy.models import Project
    from tenancy.roles import PROJECT_OBJECT_PERMISSIONS, object_codename

    project = Project.objects.filter(id=project_id).first()
    if project is None:
        return set()
    held = set(ObjectPermissionChecker(user).get_perms(project))
    return {p for p in PROJECT_OBJECT_PERMISSIONS if object_codename(p) in held}
