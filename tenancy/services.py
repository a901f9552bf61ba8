"""Writes for tenancy. Views, admin actions, dosctl and the demo seed all come through here; each
change that matters for security is appended to the audit chain in the same transaction."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from dos import scope
from dos.audit import audit_record
from tenancy.choices import EnvironmentKind, GrantEffect, GrantScope, OrgRole
from tenancy.models import ApiKey, Environment, Grant, Membership, Org, Project
from tenancy.plans import plan_names
from tenancy.roles import DEFAULT_KEY_SCOPES, PERMISSIONS, unknown_permissions

User = get_user_model()


class TenancyError(ValidationError):
    """A refused change, with a field → message mapping the API turns into problem+json."""


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # the whole `dos_<prefix>_<secret>` string; shown once, never stored


def org_create(*, name: str, plan: str = "sandbox", slug: str | None = None, owner_email: str | None = None,
               actor=None) -> Org:
    """Create an org with a default project (dev/stage/prod) and, optionally, its owner."""
    if plan not in plan_names():
        raise TenancyError({"plan": [f"Unknown plan '{plan}'; choose one of {', '.join(plan_names())}."]})
    if not name.strip():
        raise TenancyError({"name": ["A name is required."]})
    org_id = uuid.uuid4()
    base = slug or slugify(name)[:50] or "org"
    with scope.org_scope(org_id):
        # Other orgs are invisible here (RLS), so the unique index decides; an explicit slug must be
        # free, a derived one gets a short suffix on collision.
        for attempt in range(5):
            candidate = base if attempt == 0 else f"{base}-{secrets.token_hex(2)}"
            try:
                with transaction.atomic():
                    org = Org.objects.create(id=org_id, name=name.strip(), slug=candidate, plan=plan)
                break
            except IntegrityError:
                if slug:
                    raise TenancyError({"slug": [f"The slug '{slug}' is taken."]})
        else:
            raise TenancyError({"slug": ["Could not find a free slug; give one explicitly."]})
        audit_record(org_id=org.id, action="org.created", actor=actor, target=f"org:{org.id}",
                     data={"name": org.name, "slug": org.slug, "plan": plan})
        project_create(org=org, name="Default", slug="default", actor=actor)
        if owner_email:
            membership_add(org=org, email=owner_email, role=OrgRole.OWNER, actor=actor)
    return org


ORG_EDITABLE = {"name", "plan", "status", "region", "ip_allowlist", "settings"}


def org_update(*, org: Org, fields, actor=None) -> Org:
    """Save admin edits of an org; plan/status/allowlist changes are audited with their new values."""
    fields = [f for f in fields if f in ORG_EDITABLE]
    if "plan" in fields and org.plan not in plan_names():
        raise TenancyError({"plan": [f"Unknown plan '{org.plan}'."]})
    security = _org_security_settings_check(org, fields)
    org.full_clean(exclude=["id", "slug", "created_at"])
    org.save(update_fields=fields or None)
    audit_record(org_id=org.id, action="org.updated", actor=actor, target=f"org:{org.id}",
                 data={f: getattr(org, f) for f in fields if f in {"plan", "status", "region", "ip_allowlist"}}
                 | {"fields": sorted(fields)} | security)
    return org


def _org_security_settings_check(org: Org, fields) -> dict:
    """Refuse invalid security settings (tenancy.org_settings); return the changed ones for the audit entry."""
    from tenancy.org_settings import org_settings_audited, org_settings_errors

    if "settings" not in fields and fields:
        return {}
    errors = org_settings_errors(org.settings)
    if errors:
        raise TenancyError({"settings": errors})
    before = org_settings_audited(Org.objects.filter(pk=org.pk).values_list("settings", flat=True).first() or {})
    after = org_settings_audited(org.settings)
    changed = {key: {"from": before[key], "to": value} for key, value in after.items() if before[key] != value}
    return {"security_settings": changed} if changed else {}


def project_create(*, org: Org, name: str, slug: str | None = None, description: str = "", actor=None) -> Project:
    slug = slug or slugify(name)[:63]
    if not slug:
        raise TenancyError({"name": ["A name with letters or digits is required."]})
    if Project.objects.filter(org=org, slug=slug).exists():
        raise TenancyError({"slug": [f"A project with slug '{slug}' already exists."]})
    with transaction.atomic():
        project = Project.objects.create(org=org, name=name, slug=slug, description=description)
        Environment.objects.bulk_create(
            [Environment(org=org, project=project, kind=kind) for kind in EnvironmentKind.values]
        )
        audit_record(org_id=org.id, action="project.created", actor=actor, target=f"project:{project.id}",
                     data={"slug": slug})
    return project


def project_update(*, project: Project, actor=None, **changes) -> Project:
    allowed = {"name", "description"}
    unknown = set(changes) - allowed
    if unknown:
        raise TenancyError({f: ["This field cannot be changed."] for f in unknown})
    for field, value in changes.items():
        setattr(project, field, value)
    project.save(update_fields=list(changes))
    audit_record(org_id=project.org_id, action="project.updated", actor=actor, target=f"project:{project.id}",
                 data={"fields": sorted(changes)})
    return project


def project_archive(*, project: Project, actor=None) -> Project:
    """Archive a project and revoke its API keys (projects are never hard-deleted: ledgers refer to them)."""
    with transaction.atomic():
        now = timezone.now()
        project.archived_at = now
        project.save(update_fields=["archived_at"])
        for key in ApiKey.objects.filter(project=project, revoked_at__isnull=True):
            apikey_revoke(key=key, actor=actor, reason="project archived")
        audit_record(org_id=project.org_id, action="project.archived", actor=actor, target=f"project:{project.id}")
    return project


def _acting_user(actor):
    """The person behind an actor: a User, a principal's user, or None for system actors."""
    user = getattr(actor, "user", actor)
    return user if isinstance(user, User) else None


def _actor_permissions(actor) -> frozenset[str] | None:
    """What the actor may delegate; None for system actors (dosctl, seed) that are trusted."""
    if actor is None or isinstance(actor, str):
        return None
    perms = getattr(actor, "permissions", None)
    return frozenset(perms) if perms is not None else None


def apikey_create(*, project: Project, name: str, scopes=None, expires_at: datetime | None = None,
                  actor=None) -> CreatedKey:
    delegable = _actor_permissions(actor)
    if scopes is None:
        # Unnamed scopes: the defaults, limited to what the creator holds.
        scopes = [s for s in DEFAULT_KEY_SCOPES if delegable is None or s in delegable]
    scopes = sorted(set(scopes))
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["A name is required."]
    if unknown_permissions(scopes):
        errors["scopes"] = [f"Unknown permissions: {', '.join(unknown_permissions(scopes))}."]
    if not scopes:
        errors["scopes"] = ["A key needs at least one permission."]
    if delegable is not None and not errors.get("scopes") and not set(scopes) <= delegable:
        errors["scopes"] = [f"You cannot grant permissions you do not hold: {', '.join(sorted(set(scopes) - delegable))}."]
    if expires_at and expires_at <= timezone.now():
        errors["expires_at"] = ["The expiry must be in the future."]
    if project.archived_at:
        errors["project"] = ["The project is archived."]
    if errors:
        raise TenancyError(errors)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    from tenancy.authentication import hash_secret

    with transaction.atomic():
        key = ApiKey.objects.create(
            org_id=project.org_id, project=project, name=name.strip(), prefix=prefix, secret_hash=hash_secret(secret),
            scopes=scopes, expires_at=expires_at, created_by=_acting_user(actor),
        )
        audit_record(org_id=project.org_id, action="apikey.created", actor=actor, target=f"apikey:{prefix}",
                     data={"project": str(project.id), "scopes": scopes,
                           "expires_at": expires_at.isoformat() if expires_at else None})
    return CreatedKey(key=key, secret=f"dos_{prefix}_{secret}")


def apikey_revoke(*, key: ApiKey, actor=None, reason: str = "") -> ApiKey:
    if key.revoked_at:
        return key
    key.revoked_at = timezone.now()
    key.revoked_by = _acting_user(actor)
    key.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(org_id=key.org_id, action="apikey.revoked", actor=actor, target=f"apikey:{key.prefix}",
                 data={"reason": reason[:200]})
    return key


def membership_add(*, org: Org, email: str, role: str, actor=None, full_name: str = "") -> Membership:
    if role not in OrgRole.values:
        raise TenancyError({"role": [f"Unknown role '{role}'."]})
    email = User.objects.normalize_email(email).lower()
    # New people get an unusable password: they sign in through the IdP, never with a password.
    user = User.objects.filter(email=email).first() or User.objects.create_user(
        email=email, full_name=full_name, is_staff=True)
    membership, created = Membership.objects.get_or_create(org=org, user=user, role=role)
    if created:
        audit_record(org_id=org.id, action="member.role_granted", actor=actor, target=f"user:{user.pk}",
                     data={"role": role})
    return membership


def membership_remove(*, membership: Membership, actor=None) -> None:
    if membership.role == OrgRole.OWNER and not Membership.objects.filter(
            org_id=membership.org_id, role=OrgRole.OWNER).exclude(pk=membership.pk).exists():
        raise TenancyError({"role": ["An organisation keeps at least one owner."]})
    audit_record(org_id=membership.org_id, action="member.role_revoked", actor=actor,
                 target=f"user:{membership.user_id}", data={"role": membership.role})
    membership.delete()


def membership_sync(*, user, roles: list[str], actor=None) -> None:
    """Make the user's memberships equal ``roles`` ("<org-slug>:<role>"), e.g. from IdP claims.

    Unknown orgs or roles are ignored (logged by the caller's IdP configuration, not trusted here);
    an org's last owner is never removed by a sync.
    """
    wanted: dict[str, set[str]] = {}
    for item in roles:
        slug, _, role = item.partition(":")
        if slug and role in OrgRole.values:
            wanted.setdefault(slug, set()).add(role)
    with scope.platform_scope(reason="oidc: membership sync", actor=actor):
        orgs = {o.slug: o for o in Org.objects.filter(slug__in=list(wanted))}
        current = list(Membership.objects.filter(user=user).select_related("org"))
    for slug, org in orgs.items():
        with scope.org_scope(org.id):
            for role in sorted(wanted[slug]):
                membership_add(org=org, email=user.email, role=role, actor=actor)
    for membership in current:
        if membership.role not in wanted.get(membership.org.slug, set()):
            # The last owner stays: the IdP and the org must agree on a new owner first.
            with scope.org_scope(membership.org_id), contextlib.suppress(TenancyError):
                membership_remove(membership=membership, actor=actor)


def grant_create(*, org: Org, user, permission: str, effect: str, scope_kind: str = GrantScope.ORG,
                 project: Project | None = None, reason: str = "", expires_at=None, actor=None) -> Grant:
    if permission not in PERMISSIONS:
        raise TenancyError({"permission": [f"Unknown permission '{permission}'."]})
    if effect not in GrantEffect.values:
        raise TenancyError({"effect": ["Choose allow or deny."]})
    if scope_kind == GrantScope.PROJECT and project is None:
        raise TenancyError({"project": ["A project grant needs a project."]})
    grant = Grant.objects.create(org=org, user=user, permission=permission, effect=effect, scope=scope_kind,
                                 project=project, reason=reason, expires_at=expires_at,
                                 created_by=_acting_user(actor))
    audit_record(org_id=org.id, action="grant.created", actor=actor, target=f"user:{user.pk}",
                 data={"permission": permission, "effect": effect, "scope": scope_kind,
                       "project": str(project.id) if project else None})
    return grant


def grant_revoke(*, grant: Grant, actor=None) -> None:
    audit_record(org_id=grant.org_id, action="grant.revoked", actor=actor, target=f"user:{grant.user_id}",
                 data={"permission": grant.permission, "effect": grant.effect})
    grant.delete()


def project_grant(*, project: Project, user, permission: str, actor=None):
    """Grant one permission primitive on one project to one member (django-guardian object grant)."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from tenancy.models import ProjectUserObjectPermission
    from tenancy.roles import PROJECT_OBJECT_PERMISSIONS, object_codename

    if permission not in PROJECT_OBJECT_PERMISSIONS:
        raise TenancyError({"permission": [f"'{permission}' cannot be granted per project; choose one of "
                                           f"{', '.join(PROJECT_OBJECT_PERMISSIONS)}."]})
    if not Membership.objects.filter(org_id=project.org_id, user=user).exists():
        raise TenancyError({"user": ["Only members of the organisation can be granted access."]})
    perm = Permission.objects.get(content_type=ContentType.objects.get_for_model(Project),
                                  codename=object_codename(permission))
    grant, created = ProjectUserObjectPermission.objects.get_or_create(
        org_id=project.org_id, content_object=project, user=user, permission=perm)
    if created:
        audit_record(org_id=project.org_id, action="project_grant.created", actor=actor, target=f"user:{user.pk}",
                     data={"project": str(project.id), "permission": permission})
    return grant


def project_grant_revoke(*, grant, actor=None) -> None:
    audit_record(org_id=grant.org_id, action="project_grant.revoked", actor=actor, target=f"user:{grant.user_id}",
                 data={"project": str(grant.content_object_id), "permission": grant.permission.codename})
    grant.delete()
