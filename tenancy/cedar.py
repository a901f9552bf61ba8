"""Attribute-based authorization with Cedar (cedarpy), deny by default, forbid overrides permit.

The base policies express the permission table and the four-eyes rule; an org may add its own
policies in ``Org.settings["cedar_policies"]`` (e.g. forbid approvals outside business hours). The
parsed PolicySet is cached per (org, sha256 of the org's policy text), so a change takes effect at
once and an unchanged set is parsed only once per process.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import cedarpy

BASE_POLICIES = """
// Whoever holds the permission primitive for an action may perform it …
permit(principal, action, resource) when { principal.permissions.contains(context.permission) };

// … except that nobody approves their own request (four eyes).
forbid(principal, action == Action::"approve", resource)
    when { resource has requested_by && resource.requested_by == principal };

// Nobody acts on a case they created themselves (conflict of interest).
forbid(principal, action, resource)
    when { context.permission like "hitl.*" && resource has created_by && resource.created_by == principal };
"""


@lru_cache(maxsize=256)
def _policy_set(org_key: str, digest: str, text: str) -> cedarpy.PolicySet:
    return cedarpy.PolicySet.from_str(text)


def policy_set_for(org) -> cedarpy.PolicySet:
    extra = (getattr(org, "settings", None) or {}).get("cedar_policies", "")
    text = BASE_POLICIES + "\n" + extra
    return _policy_set(str(getattr(org, "id", "")), hashlib.sha256(text.encode()).hexdigest(), text)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


def _user_entity(user_id: str, permissions) -> dict:
    return {"uid": {"type": "User", "id": user_id}, "attrs": {"permissions": sorted(permissions)}, "parents": []}


def authorize(*, org, user_id: str, permissions, action: str, permission: str, resource_type: str,
              resource_id: str, resource_attrs: dict | None = None, context: dict | None = None) -> Decision:
    """Is ``user_id`` (holding ``permissions``) allowed ``action`` on the resource?

    User references in ``resource_attrs`` are given as ``("User", id)`` tuples.
    """
    attrs = {}
    entities = [_user_entity(user_id, permissions)]
    for key, value in (resource_attrs or {}).items():
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "User":
            attrs[key] = {"__entity": {"type": "User", "id": str(value[1])}}
            if str(value[1]) != user_id:
                entities.append(_user_entity(str(value[1]), []))
        else:
            attrs[key] = value
    entities.append({"uid": {"type": resource_type, "id": resource_id}, "attrs": attrs, "parents": []})
    request = {
        "principal": {"type": "User", "id": user_id},
        "action": {"type": "Action", "id": action},
        "resource": {"type": resource_type, "id": resource_id},
        "context": {"permission": permission, **(context or {})},
    }
    result = cedarpy.is_authorized(request, policy_set_for(org), entities)
    diagnostics = getattr(result, "diagnostics", None)
    return Decision(
        allowed=bool(result.allowed),
        reasons=tuple(getattr(diagnostics, "reasons", ()) or ()),
        errors=tuple(str(e) for e in (getattr(diagnostics, "errors", ()) or ())),
    )
