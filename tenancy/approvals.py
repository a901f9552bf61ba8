"""Four eyes (SPEC §6): one choke point for every two-person action.

Publishing a policy version, unsealing PII, rotating keys, high-value refunds and JIT elevation
call ``approval_require`` for the requester and ``approval_grant`` for the approver. The approver
must differ from the requester and hold the action's permission; both rules are also Cedar
policies, so an org's own ``forbid`` rules apply too. Every step lands on the audit chain.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from dos.audit import audit_record
from dos.authz import action, authorize
from dos.errors import DomainError
from tenancy import cedar
from tenancy.choices import ApprovalStatus
from tenancy.models import ApprovalRequest, Org

# action → permission the approver needs
APPROVAL_ACTIONS = {
    "policy.publish": "policy.approve",
    "vault.unseal": "vault.unseal",
    "keys.rotate": "keys.rotate",
    "billing.refund": "billing.manage",
    "billing.credit_note": "billing.manage",
    "access.elevate": "members.manage",
}

# Actions on a tenant's personal data or keys: decided by a member of the org, never a platform
# account (filled by the apps that own them, in their ``ready()``).
TENANT_ONLY_ACTIONS: set[str] = set()
# The payload key listing further people (user ids) who may not approve, besides the requester: e.g.
# the person who submitted a subject request when its verifier asks for the hand-over.
EXCLUDED_APPROVERS = "excluded_approvers"


# Money the platform gives back is decided by platform finance: an org's own billing admin holds
# ``billing.manage`` for its plan and payment method, never for approving its own refunds or credits.
PLATFORM_APPROVED = frozenset({"billing.refund", "billing.credit_note"})
# Kinds whose approval also does the work (issues the note, publishes the version): they are decided
# only through their owning service, which calls ``approval_grant``/``approval_reject`` itself; the
# generic back-office page (``generic=True``) refuses them, so a request is never approved without
# its effect.
DECIDED_BY_OWNER = {
    "billing.credit_note": "the credit note's approve or reject action (Billing › Credit notes)",
}


class FourEyesViolation(DomainError, PermissionError):
    """The same person tried to request and approve, or the approver lacks the permission."""

    status, code = 403, "four_eyes"


class ApprovalStateError(DomainError):
    status, code = 409, "approval_decided"


def approval_require(*, org: Org, action: str, target: str, requested_by, payload: dict | None = None,
                     reason: str = "") -> ApprovalRequest:
    if action not in APPROVAL_ACTIONS:
        raise ValueError(f"'{action}' is not a two-person action; known: {', '.join(APPROVAL_ACTIONS)}")
    with transaction.atomic():
        request = ApprovalRequest.objects.create(org=org, action=action, target=target, payload=payload or {},
                                                 requested_by=requested_by, reason=reason)
        audit_record(org_id=org.id, action="approval.requested", actor=requested_by, target=target,
                     data={"approval": str(request.id), "action": action})
    return request


APPROVAL_DECIDE = action("approval.decide", "policy.approve")  # the primitive depends on what is approved


class DecidedElsewhere(DomainError):
    status, code = 409, "decided_by_owner"


def _decide(*, request: ApprovalRequest, actor, approve: bool, reason: str, generic: bool) -> ApprovalRequest:
    if request.action not in APPROVAL_ACTIONS:
        raise ApprovalStateError(f"Unknown two-person action '{request.action}'.")
    permission = APPROVAL_ACTIONS[request.action]
    actor = authorize(actor, APPROVAL_DECIDE, permission=permission)
    if generic and request.action in DECIDED_BY_OWNER:
        raise DecidedElsewhere(f"'{request.action}' is decided through {DECIDED_BY_OWNER[request.action]}.")
    if request.action in PLATFORM_APPROVED and not getattr(actor, "platform", False):
        raise FourEyesViolation(f"'{request.action}' is approved by platform finance only.", permission=permission)
    approver = getattr(actor, "user", None)
    if approver is None:
        raise FourEyesViolation("Four eyes need a person: approve as a member, not as a job.", permission=permission)
    if request.status != ApprovalStatus.PENDING:
        raise ApprovalStateError(f"This request is already {request.status}.")
    if approver.pk == request.requested_by_id:
        raise FourEyesViolation("You requested this action; a second person must approve it (four eyes).",
                                permission=permission)
    if str(approver.pk) in {str(u) for u in (request.payload or {}).get(EXCLUDED_APPROVERS, [])}:
        raise FourEyesViolation("You took part in this request already; someone else must approve it (four eyes).",
                                permission=permission)
    if request.action in TENANT_ONLY_ACTIONS and (
            getattr(actor, "platform", False) or str(getattr(actor, "org_id", None)) != str(request.org_id)):
        raise FourEyesViolation("Only a member of the organisation approves this; platform accounts cannot.",
                                permission=permission)
    org = Org.objects.get(id=request.org_id)
    decision = cedar.authorize(
        org=org, user_id=str(approver.pk), permissions=frozenset(getattr(actor, "permissions", ())),
        action="approve", permission=permission, resource_type="Approval", resource_id=str(request.id),
        resource_attrs={"requested_by": ("User", request.requested_by_id), "kind": request.action},
    )
    if not decision.allowed:
        raise FourEyesViolation(f"An organisation policy forbids approving '{request.action}' here.",
                                permission=permission)
    with transaction.atomic():
        request.status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
        request.decided_by = approver
        request.decided_at = timezone.now()
        request.reason = reason or request.reason
        request.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        audit_record(org_id=org.id, action=f"approval.{request.status}", actor=actor, target=request.target,
                     data={"approval": str(request.id), "action": request.action})
    return request


def approval_grant(*, request: ApprovalRequest, actor, reason: str = "", generic: bool = False) -> ApprovalRequest:
    """A second person approves: they hold the action's primitive and did not ask (four eyes).
    ``generic``: decided on the generic approvals page rather than by the owning service."""
    return _decide(request=request, actor=actor, approve=True, reason=reason, generic=generic)


def approval_reject(*, request: ApprovalRequest, actor, reason: str = "", generic: bool = False) -> ApprovalRequest:
    return _decide(request=request, actor=actor, approve=False, reason=reason, generic=generic)
