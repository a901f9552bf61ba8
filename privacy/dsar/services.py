"""Data subject requests: intake, identity verification, the erasure's second pair of eyes, rejection.

Every entry point (the API, the admin, ``dosctl privacy dsar``) calls these services; the pipeline
(``privacy.dsar.pipeline``) does the rest in Celery. The deadline comes from the org's privacy
settings at intake (PIPA: 10 days by default, never beyond the legal maximum), with the internal
target and the warning moment beside it.

An erasure destroys the subject's key: it needs a second person. The person who verifies the
subject's identity asks for it (``approval_require``, action ``dsar.erasure``); another holder of
``dsar.fulfil`` approves it in *Approvals* (``approval_grant``) before the pipeline's fulfil step runs.

An access request hands the subject's data — sealed originals included — to whoever passes it on: it
needs a second person too. Verifying asks for the hand-over (action ``dsar.export``); another holder
of ``dsar.fulfil``, neither the verifier nor the person who submitted the request, approves it before
anything is collected. The sealed originals in the export are opened under that approval, and the
export is downloaded only while it stands.
"""

from __future__ import annotations

import datetime as dt
import json

from django.db import transaction
from django.utils import timezone

from celery_app import app as celery_app
from dos.audit import actor_label, audit_record
from dos.authz import PermissionRefused, action, authorize, system_actor
from dos.errors import DomainError, FieldErrors
from dos.pii import mask_deep, mask_text
from privacy.models import DsarEvent, DsarKind, DsarRequest, DsarState, VerificationMethod
from privacy.principals import refuse_platform
from tenancy.approvals import EXCLUDED_APPROVERS

SUBMIT = action("dsar.submit", "dsar.fulfil")
VERIFY = action("dsar.verify", "dsar.fulfil")
REJECT = action("dsar.reject", "dsar.fulfil")
RESUME = action("dsar.resume", "dsar.fulfil")
ERASURE_APPROVAL = "dsar.erasure"  # the four-eyes action of tenancy.approvals (approver: dsar.fulfil)
HANDOVER_APPROVAL = "dsar.export"  # an access request's hand-over, four eyes (approver: dsar.fulfil)
SUBJECT_ID_MAX = 128
MAX_MESSAGE_CHARS = 2000
MAX_CORRECTIONS = 30
SYSTEM = system_actor("dsar")


class DsarStateError(DomainError):
    status, code = 409, "dsar_state"


class Waiting(Exception):
    """A pipeline step cannot run yet: a person must act first (not an error)."""


def request_key_token(request_id) -> str:
    """The vault subject whose key seals this request's working copy, details and export: one key per
    request, so an export can be destroyed on its own (and is, when the subject is erased later)."""
    from privacy.vault import REQUEST_KEY_PREFIX

    return f"{REQUEST_KEY_PREFIX}{request_id}"


def clock() -> dt.datetime:
    return timezone.now()


def event(request: DsarRequest, kind: str, actor, data: dict | None = None, *, at=None) -> DsarEvent:
    return DsarEvent.objects.create(org_id=request.org_id, request=request, kind=kind, actor=actor_label(actor),
                                    data=mask_deep(data or {}), at=at or clock())


def _hint(subject_id: str) -> str:
    """The subject's id as the queue shows it: masked by the identifier rules, else its first two
    characters."""
    masked = mask_text(subject_id)
    return masked if masked != subject_id else subject_id[:2] + "•" * max(len(subject_id) - 2, 1)


def _token_for(org_id, subject_id: str | None, subject_token: str | None) -> tuple[str, str]:
    from decisions.services import subject_token as derive

    errors: dict[str, list[str]] = {}
    if bool(subject_id) == bool(subject_token):
        errors["subject_id"] = ["Give the subject's id (as sent to /decide) or its vt_ token, not both."]
    elif subject_id is not None and len(subject_id) > SUBJECT_ID_MAX:
        errors["subject_id"] = [f"At most {SUBJECT_ID_MAX} characters."]
    elif subject_token is not None and (not subject_token.startswith("vt_") or len(subject_token) > 80):
        errors["subject_token"] = ["A subject token starts with vt_ (at most 80 characters)."]
    if errors:
        raise FieldErrors(errors)
    if subject_id:
        return derive(org_id, subject_id), _hint(subject_id)
    return subject_token, ""


def _clean_details(kind: str, details: dict | None) -> tuple[dict, dict]:
    """(masked details shown in the queue, the subject's own words and corrections to seal)."""
    details = details or {}
    if not isinstance(details, dict):
        raise FieldErrors({"details": ["An object."]})
    corrections = details.get("corrections")
    if kind == DsarKind.RECTIFICATION:
        if not isinstance(corrections, dict) or not corrections:
            raise FieldErrors({"details.corrections": ["Name the fields to correct and their right values."]})
    elif corrections:
        raise FieldErrors({"details.corrections": ["Only a rectification request carries corrections."]})
    if len(str(details.get("message", ""))) > MAX_MESSAGE_CHARS or len(corrections or {}) > MAX_CORRECTIONS or any(
            len(str(k)) > 64 or len(str(v)) > 200 for k, v in (corrections or {}).items()):
        raise FieldErrors({"details": [f"A message of at most {MAX_MESSAGE_CHARS} characters and at most "
                                       f"{MAX_CORRECTIONS} corrections (names ≤ 64, values ≤ 200 characters)."]})
    shown = {"message": mask_text(str(details.get("message", "")))[:500]} if details.get("message") else {}
    if corrections:
        shown["fields"] = sorted(str(k)[:64] for k in corrections)
    return shown, details


def dsar_submit(*, org_id, kind: str, actor, subject_id: str | None = None, subject_token: str | None = None,
                details: dict | None = None, channel: str = "api", now=None) -> DsarRequest:
    """Record a subject's request (intake). Its deadline, target and warning come from the org's
    privacy settings; the pipeline starts after COMMIT and waits for identity verification."""
    from privacy.settings import privacy_settings
    from privacy.vault import REQUEST_TABLE, seal

    actor = authorize(actor, SUBMIT)
    if kind not in DsarKind.values:
        raise FieldErrors({"kind": [f"One of {', '.join(DsarKind.values)}."]})
    token, hint = _token_for(org_id, subject_id, subject_token)
    shown, own = _clean_details(kind, details)
    now = now or clock()
    settings = privacy_settings(org_id)
    due = settings.dsar_due_at(kind, now)
    with transaction.atomic():
        request = DsarRequest(org_id=org_id, kind=kind, subject_token=token, subject_hint=hint, channel=channel,
                              requested_by=actor_label(actor), details=shown, received_at=now, due_at=due,
                              target_at=min(due, now + dt.timedelta(days=settings.dsar_target_days)),
                              warn_at=settings.dsar_warn_at(kind, now))
        if own:
            request.details_sealed = seal(actor=SYSTEM, org_id=org_id, subject_token=request_key_token(request.id),
                                          table=REQUEST_TABLE, row=str(request.id), field="details",
                                          plaintext=json.dumps(own, ensure_ascii=False).encode())
        request.save(force_insert=True)
        event(request, "received", actor, {"kind": kind, "channel": channel, "due_at": due.isoformat()}, at=now)
        audit_record(org_id=org_id, action="dsar.received", actor=actor, target=f"dsar:{request.id}",
                     data={"kind": kind, "subject_token": token, "due_at": due.isoformat()})
        _enqueue(request)
    return request


def _enqueue(request: DsarRequest) -> None:
    org_id, request_id = str(request.org_id), str(request.id)

    # By name: the task module imports the pipeline, which imports this module.
    transaction.on_commit(lambda: celery_app.send_task("privacy.tasks.dsar_run",
                                                        kwargs={"org_id": org_id, "request_id": request_id}))


def _locked(request: DsarRequest) -> DsarRequest:
    return DsarRequest.objects.select_for_update().get(pk=request.pk)


def dsar_verify(*, request: DsarRequest, actor, method: str, note: str = "", now=None) -> DsarRequest:
    """A person confirms the subject is who they say (KYC-lite, a document, their account). For an
    erasure it also asks a second person to approve the erasure (four eyes)."""
    from tenancy.approvals import approval_require
    from tenancy.models import Org

    actor = refuse_platform(authorize(actor, VERIFY), permission="dsar.fulfil", org_id=request.org_id)
    user = getattr(actor, "user", None)
    if user is None:
        raise PermissionRefused("Verifying a subject's identity needs a person.", permission="dsar.fulfil",
                                code="person_required")
    if method not in VerificationMethod.values:
        raise FieldErrors({"method": [f"One of {', '.join(VerificationMethod.values)}."]})
    now = now or clock()
    with transaction.atomic():
        request = _locked(request)
        if request.verified_at is not None or request.state not in (DsarState.INTAKE, DsarState.VERIFY):
            raise DsarStateError(f"{request.reference} is not waiting for verification ({request.state}).")
        request.verified_by, request.verified_at, request.verification_method = user, now, method
        fields = ["verified_by", "verified_at", "verification_method"]
        # Four eyes: someone other than the verifier and the submitter approves the erasure or the
        # hand-over of the subject's data.
        two_person = {DsarKind.ERASURE: (ERASURE_APPROVAL, "Erasure request verified"),
                      DsarKind.ACCESS: (HANDOVER_APPROVAL, "Access request verified: hand the export over")}
        if request.kind in two_person:
            name, why = two_person[request.kind]
            request.approval = approval_require(
                org=Org.objects.get(id=request.org_id), action=name, target=f"dsar:{request.id}",
                requested_by=user, reason=why,
                payload={"subject_token": request.subject_token, EXCLUDED_APPROVERS: _submitter_ids(request)})
            fields.append("approval")
        request.save(update_fields=fields)
        event(request, "verified", actor, {"method": method, "note": mask_text(note)[:300]}, at=now)
        audit_record(org_id=request.org_id, action="dsar.verified", actor=actor, target=f"dsar:{request.id}",
                     data={"method": method})
        _enqueue(request)
    return request


def _submitter_ids(request: DsarRequest) -> list[str]:
    """The person who submitted the request (``user:<id>``), who may not approve its four-eyes step."""
    label = request.requested_by or ""
    return [label.split(":", 1)[1]] if label.startswith("user:") else []


def handover_approved(request: DsarRequest) -> bool:
    """An access request's hand-over was approved by a second person (``dsar.export``)."""
    from tenancy.choices import ApprovalStatus

    approval = request.approval
    return (approval is not None and approval.action == HANDOVER_APPROVAL and approval.status == ApprovalStatus.APPROVED
            and approval.target == f"dsar:{request.id}")


def dsar_reject(*, request: DsarRequest, actor, reason: str, now=None) -> DsarRequest:
    """Close a request without fulfilling it (identity not proven, manifestly unfounded), with the reason."""
    actor = authorize(actor, REJECT)
    reason = (reason or "").strip()
    if not reason:
        raise FieldErrors({"reason": ["Say why the request is rejected; the subject is told."]})
    now = now or clock()
    with transaction.atomic():
        request = _locked(request)
        if not request.is_open:
            raise DsarStateError(f"{request.reference} is {request.state} already.")
        if request.state in (DsarState.EXPORT, DsarState.FULFIL) and request.steps.filter(step="export").exists():
            raise DsarStateError(f"{request.reference} has its export already; it can no longer be rejected.")
        request.state, request.rejected_reason, request.completed_at = DsarState.REJECTED, reason[:500], now
        request.working_sealed = ""
        request.save(update_fields=["state", "rejected_reason", "completed_at", "working_sealed"])
        event(request, "rejected", actor, {"reason": reason[:300]}, at=now)
        audit_record(org_id=request.org_id, action="dsar.rejected", actor=actor, target=f"dsar:{request.id}",
                     data={"reason": reason[:300]})
    return request


def dsar_resume(*, request: DsarRequest, actor) -> DsarRequest:
    """Start the pipeline again for a request that waits or stalled (it resumes at its step)."""
    actor = authorize(actor, RESUME)
    if not request.is_open:
        raise DsarStateError(f"{request.reference} is {request.state} already.")
    with transaction.atomic():
        event(request, "resume_requested", actor)
        _enqueue(request)
    return request


EXPORT_DOWNLOAD = action("dsar.export_download", "dsar.fulfil")


def export_download(*, request: DsarRequest, actor) -> bytes:
    """subject_export.zip of a request, for the person handing it to the subject (counted, audited)."""
    from django.db.models import F

    from privacy.dsar.export import export_bytes
    from privacy.models import DsarExport

    actor = refuse_platform(authorize(actor, EXPORT_DOWNLOAD), permission="dsar.fulfil", org_id=request.org_id)
    if getattr(actor, "user", None) is None:
        raise PermissionRefused("Handing out a subject's data needs a person.", permission="dsar.fulfil",
                                code="person_required")
    made = DsarExport.objects.filter(request=request).first()
    if made is None:
        raise DsarStateError(f"{request.reference} has no export yet ({request.state}).")
    if request.kind == DsarKind.ACCESS and not handover_approved(request):
        raise PermissionRefused("Handing a subject's data over needs a second person's approval (four eyes): a "
                                "colleague holding 'dsar.fulfil', not the verifier or the submitter, approves the "
                                "hand-over under Approvals.", permission="dsar.fulfil", code="four_eyes")
    data = export_bytes(made)
    with transaction.atomic():
        DsarExport.objects.filter(pk=made.pk).update(downloads=F("downloads") + 1)
        event(request, "export_downloaded", actor, {"sha256": made.sha256})
        audit_record(org_id=request.org_id, action="dsar.export_downloaded", actor=actor,
                     target=f"dsar:{request.id}", data={"sha256": made.sha256})
    return data
