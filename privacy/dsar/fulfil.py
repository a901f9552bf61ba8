"""The fulfil step of each request type (called by the pipeline inside the step's transaction).

* access: the export is the answer; nothing else changes.
* erasure: needs the second person's approval. A legal hold on the subject (or one of their cases)
  defers it: nothing is destroyed and the reply says which hold. Otherwise the subject's key is
  destroyed (``privacy.vault.erase_subject`` — asked ``is_erased`` first, so a retried step never
  repeats it), and so are the keys of every finished request of the subject and of this one (their
  words, corrections and exports; this request's value-free receipt is re-sealed under a key of its
  own first); the reply lists what was kept and why
  (chained records keep their masked snapshots and hashes; every chain still verifies).
* rectification: chained records never change, so the correction goes to a person: a review case
  carrying the request's reference, the corrected fields listed (values stay sealed on the request).
* restriction: the subject's current consents are revoked (``privacy.consent``), so /decide no longer
  processes them on consent (only where the org configured another lawful basis for the purpose);
  recorded on the request and the audit chain.
"""

from __future__ import annotations

from dos.audit import audit_record
from privacy.dsar.services import SYSTEM, Waiting, request_key_token
from privacy.models import DsarExport, DsarKind, DsarRequest


def _approved(request: DsarRequest) -> bool:
    from tenancy.choices import ApprovalStatus

    return request.approval is not None and request.approval.status == ApprovalStatus.APPROVED


def _kept(document: dict) -> list[dict]:
    return [{"section": s["name"], "rows": s.get("row_count", len(s["rows"])), "because": s["kept_because"],
             "chained": s["chained"]} for s in document["sections"] if s.get("row_count", len(s["rows"]))]


def _erase(request: DsarRequest, now, document: dict) -> dict:
    from privacy.retention.holds import holds_covering_subject
    from privacy.vault import erase_subject, is_erased
    from tenancy.choices import ApprovalStatus

    if request.approval is not None and request.approval.status == ApprovalStatus.REJECTED:
        return {"erased": False, "refused": "The second person did not approve the erasure.",
                "approval": str(request.approval_id)}
    if not _approved(request):
        raise Waiting("the erasure's four-eyes approval")
    holds = holds_covering_subject(org_id=request.org_id, subject_token=request.subject_token, at=now)
    if holds:
        return {"erased": False, "deferred_by_holds": [{"id": str(h.id), "reason": h.reason} for h in holds],
                "kept": _kept(document)}
    already = is_erased(org_id=request.org_id, subject_token=request.subject_token)
    if not already:
        erase_subject(actor=SYSTEM, org_id=request.org_id, subject_token=request.subject_token,
                      reason=f"{request.reference} (erasure request)")
    # Every finished request of the subject keeps its own words, corrections, working copy and export
    # under a key of its own (dsar:<id>): destroy them all, this request's too once its value-free
    # receipt is sealed under a key of its own.
    earlier = list(DsarRequest.objects.filter(subject_token=request.subject_token, completed_at__isnull=False)
                   .exclude(id=request.id).values_list("id", flat=True))
    _receipt_rekey(request)
    for request_id in [*earlier, request.id]:
        if not is_erased(org_id=request.org_id, subject_token=request_key_token(request_id)):
            erase_subject(actor=SYSTEM, org_id=request.org_id, subject_token=request_key_token(request_id),
                          reason=f"{request.reference}: the subject was erased")
    audit_record(org_id=request.org_id, action="dsar.erasure_applied", actor=SYSTEM, target=f"dsar:{request.id}",
                 data={"subject_token": request.subject_token, "already_erased": already,
                       "earlier_exports": len(earlier)})
    return {"erased": True, "already_erased": already, "earlier_exports_destroyed": len(earlier),
            "kept": _kept(document)}


def receipt_key_token(request_id) -> str:
    """The key of an erasure's receipt (an inventory without values): it outlives the request's key."""
    from privacy.vault import RECEIPT_KEY_PREFIX

    return f"{RECEIPT_KEY_PREFIX}{request_id}"


def _receipt_rekey(request: DsarRequest) -> None:
    """Re-seal the erasure's own export (sections, counts, what is kept — never values) under a key of
    its own, so the request's key — which also sealed the subject's words — can be destroyed."""
    from privacy.vault import REQUEST_TABLE, seal, unseal

    made = DsarExport.objects.select_for_update().filter(request=request).first()
    if made is None:
        return
    archive = unseal(actor=SYSTEM, org_id=request.org_id, sealed=made.archive_sealed, purpose="dsar.access")
    made.archive_sealed = seal(actor=SYSTEM, org_id=request.org_id, subject_token=receipt_key_token(request.id),
                               table=REQUEST_TABLE, row=str(request.id), field="export", plaintext=archive)
    made.save(update_fields=["archive_sealed"])


def _rectify(request: DsarRequest, now) -> dict:
    from hitl.choices import CaseSource, Priority
    from hitl.services import case_open
    from tenancy.models import Project

    project = Project.objects.filter(archived_at__isnull=True).order_by("created_at").first()
    if project is None:
        return {"case": None, "note": "No active project to open a review case in; handle it from the queue."}
    case = case_open(org_id=request.org_id, project=project, source=CaseSource.ADMIN, priority=Priority.P1,
                     reason_codes=["DSAR_RECTIFICATION"], product="privacy",
                     summary={"dsar": request.reference, "fields": request.details.get("fields", []),
                              "subject_token": request.subject_token}, actor=SYSTEM, now=now)
    return {"case": str(case.id), "case_number": case.number, "fields": request.details.get("fields", [])}


def _restrict(request: DsarRequest, now) -> dict:
    from privacy.consent import consent_revoke_subject

    revoked = consent_revoke_subject(org_id=request.org_id, subject_token=request.subject_token, actor=SYSTEM,
                                     reason=f"{request.reference}: restriction of processing", now=now)
    return {"restricted": True, "since": now.isoformat(), "consents_revoked": [str(e.consent_id) for e in revoked]}


def fulfil(request: DsarRequest, *, now, document: dict) -> dict:
    if request.kind == DsarKind.ERASURE:
        result = _erase(request, now, document)
    elif request.kind == DsarKind.RECTIFICATION:
        result = _rectify(request, now)
    elif request.kind == DsarKind.RESTRICTION:
        result = _restrict(request, now)
    else:
        result = {"delivered": True}
    request.result = result
    request.save(update_fields=["result"])
    audit_record(org_id=request.org_id, action="dsar.fulfilled", actor=SYSTEM, target=f"dsar:{request.id}",
                 data={"kind": request.kind, "subject_token": request.subject_token,
                       **{k: v for k, v in result.items() if k in ("erased", "restricted", "case")}})
    return result
