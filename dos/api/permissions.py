"""Fail-closed action → permission mapping for every API view.

Each view declares ``permission_map = {"list": "audit.read", "create": "projects.manage", …}``
keyed by viewset action (or lower-case HTTP method on plain API views). The value ``PUBLIC`` marks an
action that needs no authentication. An action missing from the map is refused with 403
``permission_unmapped``: a new endpoint cannot ship open by accident.

Whether the caller holds a permission is answered by the principal in ``request.auth`` (an API key
or a browser session principal, set by the tenancy authenticators): it must offer
``has_perm(perm) -> bool``. Anything else fails closed.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

PUBLIC = "__public__"
AUTHENTICATED = "__authenticated__"  # any authenticated principal; data is still tenant-scoped


class PermissionUnmapped(exceptions.PermissionDenied):
    default_code = "permission_unmapped"


class MissingPermission(exceptions.PermissionDenied):
    """403 naming the permission primitive that was required (surfaced in the problem body)."""

    default_code = "permission_denied"

    def __init__(self, permission: str, detail: str | None = None):
        super().__init__(detail or f"This action requires the '{permission}' permission.")
        self.permission = permission


def action_name(view, request) -> str:
    return getattr(view, "action", None) or request.method.lower()


def required_permission(view, request) -> str:
    # DRF checks permissions before it looks up the handler: answer 405 for methods the view does
    # not implement, rather than a misleading 403.
    if hasattr(view, "action_map"):
        if view.action is None:
            raise exceptions.MethodNotAllowed(request.method)
    elif request.method.lower() not in view.http_method_names or not hasattr(view, request.method.lower()):
        raise exceptions.MethodNotAllowed(request.method)
    mapping = getattr(view, "permission_map", None) or {}
    name = action_name(view, request)
    if name not in mapping:
        raise PermissionUnmapped(f"No permission is declared for action '{name}'; refusing by default.")
    return mapping[name]


class ActionPermission(BasePermission):
    def has_permission(self, request, view) -> bool:
        if request.method == "OPTIONS":
            return True
        perm = required_permission(view, request)
        if perm == PUBLIC:
            return True
        principal = request.auth
        if principal is None:
            raise exceptions.NotAuthenticated("Send 'Authorization: Bearer dos_…' with an API key.")
        if perm == AUTHENTICATED:
            return True
        has_perm = getattr(principal, "has_perm", None)
        if not callable(has_perm) or not has_perm(perm):
            raise MissingPermission(perm)
        return True
