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
from dos.authz import PermissionRefused, action, as_actor, authorize, holds_all, is_system
from dos.errors import DomainError
from tenancy.choices import EnvironmentKind, GrantEffect, GrantScope, OrgRole
from tenancy.models import ApiKey, Environment, Grant, Membership, Org, PlatformRole, Project
from tenancy.plans import plan_names
from tenancy.roles import (
    DEFAULT_KEY_SCOPES,
    PERMISSIONS,
    PLATFORM_ROLE_PERMISSIONS,
    ROLE_PERMISSIONS,
    unknown_permissions,
)

User = get_user_model()


class TenancyError(ValidationError):
    """A refused change, with a field → message mapping the API turns into problem+json."""


class SlugTaken(DomainError):
    """The slug names an existing project of the org (409 ``slug_taken``; ``errors`` names ``slug``)."""

    status, code = 409, "slug_taken"

    def __init__(self, message: str):
        super().__init__(message, errors={"slug": [message]})


class LastOwner(DomainError):
    """An organisation keeps at least one owner (409 ``last_owner``)."""

    status, code = 409, "last_owner"


ORG_CREATE = action("org.create", "org.manage")
ORG_UPDATE = action("org.update", "org.manage")
PROJECT_CREATE = action("project.create", "project.manage")
PROJECT_UPDATE = action("project.update", "project.manage")
PROJECT_ARCHIVE = action("project.archive", "project.manage")
PROJECT_RESTORE = action("project.restore", "project.manage")
APIKEY_CREATE = action("apikey.create", "keys.manage")
APIKEY_REVOKE = action("apikey.revoke", "keys.manage")
MEMBER_ADD = action("member.add", "members.manage")
MEMBER_REMOVE = action("member.remove", "members.manage")
GRANT_CREATE = action("grant.create", "members.manage")
GRANT_REVOKE = action("grant.revoke", "members.manage")
PROJECT_GRANT_CREATE = action("project_grant.create", "members.manage")
PROJECT_GRANT_REVOKE = action("project_grant.revoke", "members.manage")
PLATFORM_ROLE_GRANT = action("platform_role.grant", "org.manage")
USER_UPDATE = action("user.update", "org.manage")
PLATFORM_ROLE_REVOKE = action("platform_role.revoke", "org.manage")


def _is_platform_superuser(actor) -> bool:
    """A break-glass superuser in the back office, or a trusted system job."""
    actor = as_actor(actor)
    user = getattr(actor, "user", None)
    return is_system(actor) or bool(getattr(actor, "platform", False) and user is not None and user.is_superuser)


def _is_owner(actor, org_id) -> bool:
    """Owners are made only by owners (or by the platform): an API key never counts as one."""
    actor = as_actor(actor)
    if _is_platform_superuser(actor):
        return True
    user = getattr(actor, "user", None)
    if getattr(actor, "kind", "") != "user" or user is None or getattr(actor, "platform", False):
        return False
    return Membership.objects.filter(org_id=org_id, user=user, role=OrgRole.OWNER).exists()


def _refuse_escalation(actor, permissions, *, what: str) -> None:
    """Nobody grants what they do not hold: the role, grant or key scope must be within the actor's."""
    missing = sorted(p for p in set(permissions) if not holds_all(actor, [p]))
    if missing:
        raise PermissionRefused(f"You cannot {what}: it carries permissions you do not hold "
                                f"({', '.join(missing)}).", permission=missing[0], code="escalation_refused")


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # the whole `dos_<prefix>_<secret>` string; shown once, never stored


def org_create(*, name: str, plan: str = "sandbox", slug: str | None = None, owner_email: str | None = None,
               actor) -> Org:
    """Create an org with a default project (dev/stage/prod) and, optionally, its owner. Platform
    work: a system job or platform staff holding ``org.manage``; no tenant credential creates orgs."""
    actor = authorize(actor, ORG_CREATE)
    if not getattr(actor, "platform", False):
        raise PermissionRefused("Only platform staff create organisations.", permission="org.manage",
                                code="platform_only")
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
        # The org's own first steps are part of creating it (the platform actor holds no org roles).
        _project_create(org=org, name="Default", slug="default", description="", actor=actor)
        if owner_email:
            _membership_create(org=org, email=owner_email, role=OrgRole.OWNER, actor=actor)
    return org


ORG_EDITABLE = {"name", "plan", "status", "region", "ip_allowlist", "settings"}


def org_update(*, org: Org, fields, actor) -> Org:
    """Save admin edits of an org; plan/status/allowlist changes are audited with their new values.
    Plan, status and region are commercial or platform facts: only platform staff change them."""
    actor = authorize(actor, ORG_UPDATE)
    fields = [f for f in fields if f in ORG_EDITABLE]
    if not fields:
        return org  # nothing the service may change was changed: never a full-row save
    platform_fields = sorted(set(fields) & {"plan", "status", "region"})
    if platform_fields and not getattr(actor, "platform", False):
        raise PermissionRefused(f"Only platform staff change {', '.join(platform_fields)}.", permission="org.manage",
                                code="platform_only")
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


def project_create(*, org: Org, name: str, slug: str | None = None, description: str = "", actor) -> Project:
    actor = authorize(actor, PROJECT_CREATE)
    return _project_create(org=org, name=name, slug=slug, description=description, actor=actor)


def _project_create(*, org: Org, name: str, slug: str | None, description: str, actor) -> Project:
    slug = slug or slugify(name)[:63]
    if not slug:
        raise TenancyError({"name": ["A name with letters or digits is required."]})
    if Project.objects.filter(org=org, slug=slug).exists():
        raise SlugTaken(f"A project with slug '{slug}' already exists.")
    with transaction.atomic():
        project = Project.objects.create(org=org, name=name, slug=slug, description=description)
        Environment.objects.bulk_create(
            [Environment(org=org, project=project, kind=kind) for kind in EnvironmentKind.values]
        )
        audit_record(org_id=org.id, action="project.created", actor=actor, target=f"project:{project.id}",
                     data={"slug": slug})
    return project


def project_update(*, project: Project, actor, **changes) -> Project:
    authorize(actor, PROJECT_UPDATE)
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


def project_archive(*, project: Project, actor) -> Project:
    """Archive a project and revoke its API keys (projects are never hard-deleted: ledgers refer to them)."""
    actor = authorize(actor, PROJECT_ARCHIVE)
    with transaction.atomic():
        now = timezone.now()
        project.archived_at = now
        project.save(update_fields=["archived_at"])
        for key in ApiKey.objects.filter(project=project, revoked_at__isnull=True):
            _apikey_revoke(key, actor=actor, reason="project archived")
        audit_record(org_id=project.org_id, action="project.archived", actor=actor, target=f"project:{project.id}")
    return project


def _acting_user(actor):
    """The person behind an actor: a User, a principal's user, or None for system actors."""
    user = getattr(actor, "user", actor)
    return user if isinstance(user, User) else None


def project_restore(*, project: Project, actor, reason: str = "") -> Project:
    """Bring an archived project back (its keys stay revoked: new ones are made for it); audited."""
    actor = authorize(actor, PROJECT_RESTORE)
    if project.archived_at is None:
        return project
    with transaction.atomic():
        project.archived_at = None
        project.save(update_fields=["archived_at"])
        audit_record(org_id=project.org_id, action="project.restored", actor=actor, target=f"project:{project.id}",
                     data={"reason": reason[:200]})
    return project


def apikey_create(*, project: Project, name: str, scopes=None, expires_at: datetime | None = None,
                  actor) -> CreatedKey:
    """A key for one project, carrying at most what its creator holds (ADR 0010: a key stops working
    when its creator no longer holds what it delegated — see ``apikeys_outliving_creator``)."""
    actor = authorize(actor, APIKEY_CREATE)
    if scopes is None:
        # Unnamed scopes: the defaults, limited to what the creator holds.
        scopes = [s for s in DEFAULT_KEY_SCOPES if holds_all(actor, [s])]
    scopes = sorted(set(scopes))
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["A name is required."]
    if unknown_permissions(scopes):
        errors["scopes"] = [f"Unknown permissions: {', '.join(unknown_permissions(scopes))}."]
    if not scopes:
        errors["scopes"] = ["A key needs at least one permission."]
    if expires_at and expires_at <= timezone.now():
        errors["expires_at"] = ["The expiry must be in the future."]
    parent = getattr(actor, "key", None) if getattr(actor, "kind", "") == "api_key" else None
    if parent is not None and parent.expires_at and (expires_at is None or expires_at > parent.expires_at):
        expires_at = parent.expires_at  # a key never outlives the key that minted it
    if project.archived_at:
        errors["project"] = ["The project is archived."]
    if errors:
        raise TenancyError(errors)
    _refuse_escalation(actor, scopes, what="give a key these scopes")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    from tenancy.authentication import hash_secret

    with transaction.atomic():
        key = ApiKey.objects.create(
            org_id=project.org_id, project=project, name=name.strip(), prefix=prefix, secret_hash=hash_secret(secret),
            scopes=scopes, expires_at=expires_at, created_by=_acting_user(actor),
            created_by_key_id=parent.pk if parent is not None else None,
        )
        audit_record(org_id=project.org_id, action="apikey.created", actor=actor, target=f"apikey:{prefix}",
                     data={"project": str(project.id), "scopes": scopes,
                           "expires_at": expires_at.isoformat() if expires_at else None})
    return CreatedKey(key=key, secret=f"dos_{prefix}_{secret}")


def apikey_revoke(*, key: ApiKey, actor, reason: str = "") -> ApiKey:
    return _apikey_revoke(key, actor=authorize(actor, APIKEY_REVOKE), reason=reason)


def _apikey_revoke(key: ApiKey, *, actor, reason: str) -> ApiKey:
    if key.revoked_at:
        return key
    key.revoked_at = timezone.now()
    key.revoked_by = _acting_user(actor)
    key.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(org_id=key.org_id, action="apikey.revoked", actor=actor, target=f"apikey:{key.prefix}",
                 data={"reason": reason[:200]})
    # Keys this key minted go with it: a leaked key cannot leave a copy behind that outlives it.
    for child in ApiKey.objects.filter(org_id=key.org_id, created_by_key=key, revoked_at__isnull=True):
        _apikey_revoke(child, actor=actor, reason=f"minted by dos_{key.prefix}_…, which was revoked")
    return key


def _role_guard(actor, org_id, role: str, *, verb: str) -> None:
    if role == OrgRole.OWNER and not _is_owner(actor, org_id):
        raise PermissionRefused(f"Only an owner can {verb} the owner role.", permission="members.manage",
                                code="owner_only")
    _refuse_escalation(actor, ROLE_PERMISSIONS.get(role, frozenset()), what=f"{verb} the '{role}' role")


def membership_add(*, org: Org, email: str, role: str, actor, full_name: str = "") -> Membership:
    """Give a person a role in the org. The actor must hold every permission of the role, and only
    an owner makes owners. A new address gets an account that is not staff and has no password: it
    signs in through the IdP, and reaches the back office only through this membership."""
    actor = authorize(actor, MEMBER_ADD)
    if role not in OrgRole.values:
        raise TenancyError({"role": [f"Unknown role '{role}'."]})
    _role_guard(actor, org.id, role, verb="grant")
    return _membership_create(org=org, email=email, role=role, actor=actor, full_name=full_name)


def _membership_create(*, org: Org, email: str, role: str, actor, full_name: str = "") -> Membership:
    email = User.objects.normalize_email(email).lower()
    user = User.objects.filter(email=email).first() or User.objects.create_user(email=email, full_name=full_name)
    membership, created = Membership.objects.get_or_create(org=org, user=user, role=role)
    if created:
        audit_record(org_id=org.id, action="member.role_granted", actor=actor, target=f"user:{user.pk}",
                     data={"role": role})
    return membership


def membership_remove(*, membership: Membership, actor) -> None:
    """Take a role away: only from roles the actor could grant (owners by owners); the last owner
    stays. Keys the person created that now carry more than they hold stop working."""
    actor = authorize(actor, MEMBER_REMOVE)
    _role_guard(actor, membership.org_id, membership.role, verb="remove")
    _membership_delete(membership, actor=actor)


def _membership_delete(membership: Membership, *, actor) -> None:
    if membership.role == OrgRole.OWNER and not Membership.objects.filter(
            org_id=membership.org_id, role=OrgRole.OWNER).exclude(pk=membership.pk).exists():
        raise LastOwner("An organisation keeps at least one owner.")
    audit_record(org_id=membership.org_id, action="member.role_revoked", actor=actor,
                 target=f"user:{membership.user_id}", data={"role": membership.role})
    membership.delete()
    apikeys_outliving_creator(user=membership.user, org_id=membership.org_id, actor=actor)


def membership_sync(*, user, roles: list[str], actor) -> None:
    """Make the user's memberships equal ``roles`` ("<org-slug>:<role>"), e.g. from IdP claims.

    The IdP is trusted for the orgs that chose to sync roles from it: this runs as a system actor
    (``system:oidc``), never on behalf of a tenant credential. Unknown orgs or roles are ignored;
    an org's last owner is never removed by a sync.
    """
    if not is_system(actor):
        raise PermissionRefused("Membership sync is a system job (the IdP's claims).", code="system_only")
    actor = as_actor(actor)
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
            with scope.org_scope(membership.org_id), contextlib.suppress(LastOwner):
                _membership_delete(membership, actor=actor)


def _require_member(org_id, user) -> None:
    if not Membership.objects.filter(org_id=org_id, user=user).exists():
        raise TenancyError({"user": ["Only members of the organisation can be granted access."]})


def grant_create(*, org: Org, user, permission: str, effect: str, scope_kind: str = GrantScope.ORG,
                 project: Project | None = None, reason: str = "", expires_at=None, actor) -> Grant:
    """A custom allow or deny of one primitive for one member. Allowing or denying something needs
    holding it: nobody widens (or narrows) access beyond their own."""
    actor = authorize(actor, GRANT_CREATE)
    if permission not in PERMISSIONS:
        raise TenancyError({"permission": [f"Unknown permission '{permission}'."]})
    if effect not in GrantEffect.values:
        raise TenancyError({"effect": ["Choose allow or deny."]})
    if scope_kind == GrantScope.PROJECT and project is None:
        raise TenancyError({"project": ["A project grant needs a project."]})
    _refuse_escalation(actor, [permission], what=f"{effect} '{permission}'")
    _require_member(org.id, user)
    # Narrowing someone is as strong as taking their roles away: owners are narrowed only by owners.
    if effect == GrantEffect.DENY and not _is_owner(actor, org.id) and Membership.objects.filter(
            org_id=org.id, user=user, role=OrgRole.OWNER).exists():
        raise PermissionRefused("Only an owner can deny an owner a permission.", permission="members.manage",
                                code="owner_only")
    grant = Grant.objects.create(org=org, user=user, permission=permission, effect=effect, scope=scope_kind,
                                 project=project, reason=reason, expires_at=expires_at,
                                 created_by=_acting_user(actor))
    audit_record(org_id=org.id, action="grant.created", actor=actor, target=f"user:{user.pk}",
                 data={"permission": permission, "effect": effect, "scope": scope_kind,
                       "project": str(project.id) if project else None})
    if effect == GrantEffect.DENY:
        apikeys_outliving_creator(user=user, org_id=org.id, actor=actor)
    return grant


def grant_revoke(*, grant: Grant, actor) -> None:
    """Take a grant back. An owner may always lift a deny from an owner (else a deny of
    ``members.manage`` could lock the owners out for good)."""
    actor = as_actor(actor)
    lifting_owner_deny = grant.effect == GrantEffect.DENY and _is_owner(actor, grant.org_id)
    if not lifting_owner_deny:
        actor = authorize(actor, GRANT_REVOKE)
        _refuse_escalation(actor, [grant.permission], what=f"revoke '{grant.permission}'")
    audit_record(org_id=grant.org_id, action="grant.revoked", actor=actor, target=f"user:{grant.user_id}",
                 data={"permission": grant.permission, "effect": grant.effect})
    grant.delete()
    if grant.effect == GrantEffect.ALLOW:
        apikeys_outliving_creator(user=grant.user, org_id=grant.org_id, actor=actor)


def project_grant(*, project: Project, user, permission: str, actor):
    """Grant one permission primitive on one project to one member (django-guardian object grant)."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from tenancy.models import ProjectUserObjectPermission
    from tenancy.roles import PROJECT_OBJECT_PERMISSIONS, object_codename

    actor = authorize(actor, PROJECT_GRANT_CREATE)
    if permission not in PROJECT_OBJECT_PERMISSIONS:
        raise TenancyError({"permission": [f"'{permission}' cannot be granted per project; choose one of "
                                           f"{', '.join(PROJECT_OBJECT_PERMISSIONS)}."]})
    _refuse_escalation(actor, [permission], what=f"grant '{permission}' on a project")
    _require_member(project.org_id, user)
    perm = Permission.objects.get(content_type=ContentType.objects.get_for_model(Project),
                                  codename=object_codename(permission))
    grant, created = ProjectUserObjectPermission.objects.get_or_create(
        org_id=project.org_id, content_object=project, user=user, permission=perm)
    if created:
        audit_record(org_id=project.org_id, action="project_grant.created", actor=actor, target=f"user:{user.pk}",
                     data={"project": str(project.id), "permission": permission})
    return grant


def project_grant_revoke(*, grant, actor) -> None:
    actor = authorize(actor, PROJECT_GRANT_REVOKE)
    primitive = grant.permission.codename.replace("_", ".", 1)
    _refuse_escalation(actor, [primitive], what=f"revoke '{primitive}' on a project")
    audit_record(org_id=grant.org_id, action="project_grant.revoked", actor=actor, target=f"user:{grant.user_id}",
                 data={"project": str(grant.content_object_id), "permission": grant.permission.codename})
    grant.delete()
    apikeys_outliving_creator(user=grant.user, org_id=grant.org_id, actor=actor)


def apikeys_outliving_creator(*, user, org_id, actor) -> list[ApiKey]:
    """Revoke the org's keys that ``user`` created and that now carry a scope they no longer hold
    (on the key's project). A key is a delegation, not an independent identity (ADR 0010)."""
    from tenancy.permissions import user_permissions

    revoked = []
    for key in ApiKey.objects.filter(org_id=org_id, created_by=user, revoked_at__isnull=True):
        held = user_permissions(user, org_id, key.project_id)
        lost = sorted(set(key.scopes) - held)
        if lost:
            _apikey_revoke(key, actor=as_actor(actor) or "system:tenancy",
                           reason=f"creator no longer holds {', '.join(lost)}")
            revoked.append(key)
    return revoked


def platform_role_grant(*, user, role: str, actor):
    """Platform staff roles are given only by a platform superuser (break-glass) or a system job,
    and each grant is on the platform's audit chain."""
    from tenancy.models import PLATFORM_ORG_ID

    actor = authorize(actor, PLATFORM_ROLE_GRANT)
    if not _is_platform_superuser(actor):
        raise PermissionRefused("Only a platform superuser grants platform roles.", permission="org.manage",
                                code="superuser_only")
    if role not in PLATFORM_ROLE_PERMISSIONS:
        raise TenancyError({"role": [f"Unknown platform role '{role}'."]})
    with scope.platform_scope(reason=f"platform role {role} granted", actor=actor):
        platform_role, created = PlatformRole.objects.get_or_create(user=user, role=role)
        if created:
            audit_record(org_id=PLATFORM_ORG_ID, action="platform_role.granted", actor=actor,
                         target=f"user:{user.pk}", data={"role": role})
    return platform_role


def platform_role_revoke(*, platform_role, actor) -> None:
    from tenancy.models import PLATFORM_ORG_ID

    actor = authorize(actor, PLATFORM_ROLE_REVOKE)
    if not _is_platform_superuser(actor):
        raise PermissionRefused("Only a platform superuser revokes platform roles.", permission="org.manage",
                                code="superuser_only")
    with scope.platform_scope(reason=f"platform role {platform_role.role} revoked", actor=actor):
        audit_record(org_id=PLATFORM_ORG_ID, action="platform_role.revoked", actor=actor,
                     target=f"user:{platform_role.user_id}", data={"role": platform_role.role})
        platform_role.delete()


USER_EDITABLE = {"email", "full_name", "is_active", "is_staff"}


def user_update(*, user, changes: dict, actor):
    """Change an account (it spans orgs): a platform superuser only, on the platform's audit chain
    with the names of the fields changed (values are personal data and stay off the chain)."""
    from tenancy.models import PLATFORM_ORG_ID

    actor = authorize(actor, USER_UPDATE)
    if not _is_platform_superuser(actor):
        raise PermissionRefused("Only a platform superuser changes accounts.", permission="org.manage",
                                code="superuser_only")
    unknown = set(changes) - USER_EDITABLE
    if unknown:
        raise TenancyError({f: ["This field cannot be changed here."] for f in sorted(unknown)})
    stored = User.objects.get(pk=user.pk)
    for field, value in changes.items():
        setattr(stored, field, User.objects.normalize_email(value).lower() if field == "email" else value)
    stored.full_clean(exclude=["password"])
    stored.save(update_fields=sorted(changes) or None)
    with scope.platform_scope(reason=f"account {user.pk} changed", actor=actor):
        audit_record(org_id=PLATFORM_ORG_ID, action="user.updated", actor=actor, target=f"user:{user.pk}",
                     data={"fields": sorted(changes)})
    return stored
