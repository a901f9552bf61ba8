"""Who may act on one org's subjects: its own people and its jobs, never the platform.

A DecisionOS superuser or platform role holds every permission in platform scope (for support and
operations). Reading, handing out or re-keying a tenant's personal data is not operations: verifying a
subject, downloading a subject export, asking to read or reading a sealed value, and a key rotation's
request, approval and resumption refuse platform principals and principals of another org. Jobs
(``SystemActor``) run inside the org's scope and are not refused here; each such service decides
separately whether a job may call it.
"""

from __future__ import annotations

from dos.authz import PermissionRefused, is_system


class PlatformPrincipalRefused(PermissionRefused):
    def __init__(self, message: str, *, permission: str):
        super().__init__(message, permission=permission, code="tenant_member_required")


def refuse_platform(actor, *, permission: str, org_id=None):
    """``actor`` unchanged when it is a job or a member acting in ``org_id``; refused otherwise."""
    if is_system(actor):
        return actor
    actor_org = getattr(actor, "org_id", None)
    if getattr(actor, "platform", False) or actor_org is None:
        raise PlatformPrincipalRefused(
            "A tenant's personal data is handled by the tenant's own members: a platform account cannot do "
            "this. Sign in as a member of the organisation.", permission=permission)
    if org_id is not None and str(actor_org) != str(org_id):
        raise PlatformPrincipalRefused("This belongs to another organisation.", permission=permission)
    return actor
