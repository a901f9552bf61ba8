"""Attribute-based authorization with Cedar (cedarpy), deny by default, forbid overrides permit.

The base policies express the permission table and the four-eyes rule. An org's extra policies
(e.g. forbid approvals outside business hours) are a platform-approved plan override
(``cedar_policies``, tenancy.overrides) and may only *forbid*: a ``permit`` is refused when it is
saved. Whatever the policies say, ``authorize`` also requires the permission primitive itself, so a
Cedar allow can never stand in for the role check. The parsed PolicySet is cached per (org, sha256
of the policy text), so a change takes effect at once and an unchanged set is parsed once per process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import cedarpy
import structlog
from django.core.exceptions import ValidationError

from dos.canonical import sha256_hex

log = structlog.get_logger(__name__)

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


class CedarPolicyRefused(ValidationError):
    """Org policy text that does not parse, or that would grant (``permit``) rather than restrict."""


def org_policies_validate(text: str) -> None:
    """Refuse org-authored policies unless every one parses and is a ``forbid``.

    An org may narrow what its roles allow, never widen it: a permit (or a template, which could be
    linked into one) would let a policy stand in for a permission the role table does not give."""
    if not text.strip():
        return
    try:
        parsed = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as exc:
        raise CedarPolicyRefused({"value": f"The Cedar policies do not parse: {exc}"})
    if parsed.get("templates"):
        raise CedarPolicyRefused({"value": "Policy templates are not allowed; write each forbid in full."})
    permits = [pid for pid, policy in (parsed.get("staticPolicies") or {}).items() if policy.get("effect") != "forbid"]
    if permits:
        raise CedarPolicyRefused({"value": f"Organisation policies may only forbid; {len(permits)} of them "
                                           "permit. Permissions come from roles and grants."})


def _org_policies(org) -> str:
    from tenancy.plans import effective_plan

    if getattr(org, "plan", None) is None:
        return ""
    text = effective_plan(org).cedar_policies or ""
    try:
        org_policies_validate(text)
    except CedarPolicyRefused:
        # Saved text is validated; this only guards rows written around the service.
        log.error("cedar.org_policies_refused", org_id=str(org.id))
        return ""
    return text


def policy_set_for(org) -> cedarpy.PolicySet:
    text = BASE_POLICIES + "\n" + _org_policies(org)
    return _policy_set(str(getattr(org, "id", "")), sha256_hex(text), text)


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

    Allowed only when the user holds ``permission`` *and* no policy forbids it: the primitive is
    checked here on its own, so no policy text can grant what the role table does not.
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
        allowed=bool(result.allowed) and permission in set(permissions),
        reasons=tuple(getattr(diagnostics, "reasons", ()) or ()),
        errors=tuple(str(e) for e in (getattr(diagnostics, "errors", ()) or ())),
    )
