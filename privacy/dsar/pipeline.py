"""The DSAR pipeline: intake → verify → scope → collect → redact → export → fulfil, one checkpoint
per step, in PostgreSQL.

``dsar_process`` runs a request as far as it can go. Each step is one transaction in the org's
scope: lock the request row, re-read its state, do the step's effect, insert the step's checkpoint
(``DsarStep``, unique per request and step) and move ``state`` — all or nothing. So a worker killed
at any moment (a redelivered task, ``acks_late``) finds each step either committed whole (it moves
on) or not at all (it runs it again): the export is built once (a unique row), the subject's key is
destroyed once (and ``is_erased`` is asked first). Two deliveries at once queue on the row lock.

The pipeline stops, without error, where a person must act: at ``verify`` until the subject's
identity is verified, at ``collect`` of an access request until a second person approved the
hand-over, and at ``fulfil`` of an erasure until a second person approved it.

``fault_points`` lets a test stop the job at a step boundary exactly as a kill would: a hook called
inside each step's transaction after its effect (``phase="effect"``) and after its COMMIT
(``phase="committed"``). Nothing registers one in production.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import structlog
from django.db.models import F

from dos import scope
from dos.audit import audit_record
from dos.subject_data import subject_collect
from privacy.dsar import export as exporting
from privacy.dsar.services import SYSTEM, Waiting, clock, event, request_key_token
from privacy.models import DsarExport, DsarKind, DsarRequest, DsarState, DsarStep
from privacy.models.dsar import STEPS

log = structlog.get_logger(__name__)
fault_points: list[Callable[[str, str], None]] = []
MAX_ATTEMPTS = 20


def _fault(step: str, phase: str) -> None:
    for point in fault_points:
        point(step, phase)


# -- sealing the working copy under the request's own key ---------------------------------------

def _seal(request: DsarRequest, field: str, payload: bytes) -> str:
    from privacy.vault import REQUEST_TABLE, seal

    return seal(actor=SYSTEM, org_id=request.org_id, subject_token=request_key_token(request.id),
                table=REQUEST_TABLE, row=str(request.id), field=field, plaintext=payload)


def _open(request: DsarRequest, sealed: str) -> bytes:
    from privacy.vault import unseal

    return unseal(actor=SYSTEM, org_id=request.org_id, sealed=sealed, purpose="dsar.access")


def _working(request: DsarRequest) -> dict:
    return json.loads(_open(request, request.working_sealed))


def _store_working(request: DsarRequest, document: dict) -> None:
    request.working_sealed = _seal(request, "working", json.dumps(document, ensure_ascii=False).encode())
    request.save(update_fields=["working_sealed"])


# -- the steps: each returns its checkpoint's result --------------------------------------------

def _intake(request: DsarRequest, now) -> dict:
    return {"due_at": request.due_at.isoformat(), "target_at": request.target_at.isoformat()}


def _verify(request: DsarRequest, now) -> dict:
    if request.verified_at is None:
        raise Waiting("identity verification")
    return {"method": request.verification_method, "verified_by": f"user:{request.verified_by_id}"}


def _scope(request: DsarRequest, now) -> dict:
    from privacy.retention.holds import holds_covering_subject

    holds = holds_covering_subject(org_id=request.org_id, subject_token=request.subject_token, at=now)
    request.scope = {"collectors": "all", "holds": [{"id": str(h.id), "reason": h.reason} for h in holds]}
    request.save(update_fields=["scope"])
    return {"holds": len(holds)}


def _collect(request: DsarRequest, now) -> dict:
    from privacy.dsar.services import handover_approved

    approval = None
    if request.kind == DsarKind.ACCESS:
        # Nothing about the subject is gathered before a second person approved the hand-over; the
        # sealed originals are opened under that approval.
        if not handover_approved(request):
            raise Waiting("the hand-over's four-eyes approval")
        approval = request.approval
    sections = subject_collect(org_id=request.org_id, subject_token=request.subject_token, approval=approval)
    document = exporting.document(request, sections, generated_at=now)
    _store_working(request, document)
    return {"sections": {s["name"]: len(s["rows"]) for s in document["sections"]}}


def _redact(request: DsarRequest, now) -> dict:
    document = exporting.redact(_working(request), values=request.kind != DsarKind.ERASURE)
    _store_working(request, document)
    return {"redacted": document["redaction"]}


def _export(request: DsarRequest, now) -> dict:
    document = _working(request)
    archive = exporting.archive(document)
    made = DsarExport.objects.create(
        org_id=request.org_id, request=request, archive_sealed=_seal(request, "export", archive),
        sha256=exporting.sha256(archive), size=len(archive),
        sections={s["name"]: len(s["rows"]) for s in document["sections"]}, created_at=now)
    audit_record(org_id=request.org_id, action="dsar.exported", actor=SYSTEM, target=f"dsar:{request.id}",
                 data={"sha256": made.sha256, "size": made.size})
    return {"export": str(made.id), "sha256": made.sha256, "size": made.size}


def _fulfil(request: DsarRequest, now) -> dict:
    from privacy.dsar import fulfil

    return fulfil.fulfil(request, now=now, document=_working(request))


STEP_FUNCTIONS = {"intake": _intake, "verify": _verify, "scope": _scope, "collect": _collect, "redact": _redact,
                  "export": _export, "fulfil": _fulfil}


def _next(step: str) -> str:
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else DsarState.DONE


def _run_step(org_id, request_id, attempt: int) -> str | None:
    """Run the request's current step in one transaction; the state after it (None: stop here)."""
    with scope.org_scope(org_id):
        request = DsarRequest.objects.select_for_update().get(id=request_id)
        step = request.state
        if step not in STEPS:
            return None
        if DsarStep.objects.filter(request=request, step=step).exists():
            # Committed by an earlier delivery whose state write cannot be missing (same transaction),
            # but a hand-edited row must not make the pipeline repeat an effect.
            request.state = _next(step)
            request.save(update_fields=["state"])
            return request.state
        now = clock()
        try:
            result = STEP_FUNCTIONS[step](request, now)
        except Waiting as waiting:
            log.info("dsar.waiting", request=str(request.id), step=step, reason=str(waiting))
            return None
        DsarStep.objects.create(org_id=request.org_id, request=request, step=step, attempt=attempt, result=result,
                                completed_at=now)
        request.state = _next(step)
        fields = ["state"]
        if request.state == DsarState.DONE:
            request.completed_at, request.working_sealed = now, ""
            fields += ["completed_at", "working_sealed"]
        request.save(update_fields=fields)
        event(request, f"step.{step}", SYSTEM, result, at=now)
        _fault(step, "effect")
    _fault(step, "committed")
    return request.state


def dsar_process(*, org_id, request_id) -> str:
    """Carry a request on from its current step; safe to call again at any moment. Returns its state."""
    with scope.org_scope(org_id):
        request = DsarRequest.objects.get(id=request_id)
        if not request.is_open:
            return request.state
        if request.attempts >= MAX_ATTEMPTS:
            DsarRequest.objects.filter(id=request_id).update(
                last_error=f"Stopped after {request.attempts} runs; resume it from the queue once the cause is fixed.")
            return request.state
        DsarRequest.objects.filter(id=request_id).update(attempts=F("attempts") + 1)
        attempt = request.attempts + 1
        # The request's data key is created (and committed) here, before any step seals with it: a
        # step rolled back must not take with it a key that the vault already holds in memory.
        _seal(request, "key", b"")
    state = request.state
    while True:
        moved = _run_step(org_id, request_id, attempt)
        if moved is None:
            break
        state = moved
    return state
