"""Authorization in the service (ADR 0010): every state-changing service names its action and
checks the acting principal itself, so the API, the admin, ``dosctl`` and Celery cannot disagree.

An *actor* is whatever the entry point authenticated: an API key, a signed-in person (API session or
admin), or a :class:`SystemActor` for trusted jobs (beat, the demo seed, an operator's ``dosctl``
without ``--as``). Every actor answers ``has_perm(primitive)``. ``None`` is not an actor: a service
called without one refuses, so a forgotten argument fails closed.

``ACTIONS`` is the registry of state-changing actions and the primitive each needs; the permission
matrix test is generated from it and from ``tenancy.roles``, so an action without a matrix entry
fails the suite.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from dos.errors import DomainError
from dos.hooks import Hook

ACTIONS: dict[str, str] = {}

# Further checks every authorized action passes, plugged in by higher apps: ``fn(actor, name,
# permission)`` raises ``PermissionRefused`` (tenancy: what the org's status allows).
action_checks = Hook("dos.authz.action_checks")


def action(name: str, permission: str) -> str:
    """Register a state-changing action (module level, next to its service); returns ``name``."""
    if ACTIONS.get(name, permission) != permission:
        raise ValueError(f"Action '{name}' is registered with another permission already.")
    ACTIONS[name] = permission
    return name


class PermissionRefused(DomainError, PermissionDenied):
    """The actor may not do this (403). ``permission`` names the primitive that was missing.

    Also a Django ``PermissionDenied``: an admin page that does not catch it answers 403 by itself."""

    status = 403
    code = "permission_denied"

    def __init__(self, message: str, *, permission: str = "", code: str = "permission_denied", **extra):
        super().__init__(message, code=code, permission=permission or None, **extra)
        self.permission = permission


@dataclass(frozen=True)
class SystemActor:
    """A trusted job, not a person: it holds every primitive and is labelled on the chain."""

    name: str
    kind: str = "system"
    platform: bool = True
    user: None = None
    is_authenticated: bool = True

    def has_perm(self, perm: str) -> bool:
        return True

    def audit_label(self) -> str:
        return f"system:{self.name}"


def system_actor(name: str) -> SystemActor:
    return SystemActor(name=name)


def as_actor(actor):
    """Accept the historical ``"system:<job>"`` labels as system actors; anything else unchanged."""
    if isinstance(actor, str) and actor.startswith("system:"):
        return SystemActor(name=actor.split(":", 1)[1] or "job")
    return actor


def is_system(actor) -> bool:
    return isinstance(as_actor(actor), SystemActor)


def holds_all(actor, permissions) -> bool:
    """Does the actor hold every one of ``permissions``? (What it may delegate to others.)"""
    actor = as_actor(actor)
    has_perm = getattr(actor, "has_perm", None)
    return bool(getattr(actor, "kind", None)) and callable(has_perm) and all(has_perm(p) for p in permissions)


def authorize(actor, name: str, *, permission: str | None = None):
    """Refuse unless ``actor`` holds the primitive registered for action ``name`` (or the
    ``permission`` given for actions whose primitive depends on the object, e.g. a case action on
    an escalated case). Returns the actor (system labels resolved)."""
    if name not in ACTIONS:
        raise KeyError(f"Unregistered action '{name}'")
    needed = permission or ACTIONS[name]
    actor = as_actor(actor)
    # A principal has a ``kind``; a bare User (whose Django ``has_perm`` means something else) does not.
    if actor is None or not getattr(actor, "kind", None) or not callable(getattr(actor, "has_perm", None)):
        raise PermissionRefused(f"'{name}' needs an acting principal.", permission=needed, code="actor_required")
    if not actor.has_perm(needed):
        raise PermissionRefused(f"'{name}' needs the '{needed}' permission.", permission=needed)
    action_checks(actor, name, needed)
    return actor
