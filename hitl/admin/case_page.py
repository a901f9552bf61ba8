"""The case page of the reviewers' inbox: the decision's context, the timeline, notes, attachments,
appeals and the action buttons. Each form posts an ``op`` that is handed to one HITL service; the
page then redirects back (post/redirect/get) with the service's answer as a message."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from dos.errors import DomainError
from dos.management.base import is_uuid
from dos.pii import mask_value
from hitl import appeals, attachments, notes
from hitl.actions import ActionInvalid, allowed_actions, case_act
from hitl.choices import OPEN_APPEAL_STATUSES, CaseAction, CaseStatus, TaskKind
from hitl.models import Case
from hitl.qa import QA_PERMISSION, qa_record
from hitl.selectors import sla_state

# What the services refuse with, shown to the person as a message on the page.
REFUSALS = (DomainError,)  # every service refusal: permission, state, four eyes, bad fields, files


SHORTCUT_KEYS = {CaseAction.APPROVE: "a", CaseAction.DENY: "d", CaseAction.ESCALATE: "e"}


def case_actions_for(case: Case) -> list[dict]:
    """The buttons the case page shows (allowed by the state machine), with their shortcut keys."""
    return [{"name": name, "label": CaseAction(name).label, "key": SHORTCUT_KEYS.get(name, ""),
             "needs_comment": name in (CaseAction.OVERRIDE, CaseAction.REQUEST_DOCS, CaseAction.CLOSE,
                                       CaseAction.COMMENT)}
            for name in allowed_actions(case)]


def case_page(model_admin, request, case: Case):
    principal = model_admin.principal(request)
    revealed = {}
    if request.method == "POST":
        op = request.POST.get("op", "")
        handler = _OPS.get(op)
        if handler is None:
            messages.error(request, f"Unknown operation '{op[:40]}'.")
        else:
            try:
                result = handler(request, case, principal)
                if op == "reveal":
                    revealed = result
                else:
                    return HttpResponseRedirect(request.path)
            except REFUSALS as exc:
                messages.error(request, str(exc))
                if op != "reveal":
                    return HttpResponseRedirect(request.path)
        case = Case.objects.get(pk=case.pk)
    return TemplateResponse(request, "admin/hitl/case/page.html", _context(model_admin, request, case, principal,
                                                                            revealed))


def _context(model_admin, request, case: Case, principal, revealed: dict) -> dict:
    from decisions.reason_codes import reason_text

    case = (Case.objects.select_related("queue", "owner", "decided_by", "decision__policy_version__policy_set")
            .get(pk=case.pk))
    decision = case.decision
    case_notes, events = list(case.notes.all()), list(case.events.all())
    people = _people([*(e.actor for e in events), *((e.data or {}).get("owner", "") for e in events),
                      *(n.author_label for n in case_notes)])
    note_rows = [{"note": n, "html": mark_safe(notes.render_markdown(n.body_md)),  # noqa: S308 - escaped by markdown-it
                  "author": people.get(n.author_label, n.author_label), "original": revealed.get(n.id)}
                 for n in case_notes]
    mine = Case.objects.filter(owner_id=request.user.pk).exclude(status=CaseStatus.CLOSED).order_by(
        "sla_due_at", "created_at").values_list("pk", flat=True)[:200]
    mine = list(mine)
    position = mine.index(case.pk) if case.pk in mine else -1
    neighbours = {"previous": mine[position - 1] if position > 0 else None,
                  "next": mine[position + 1] if 0 <= position < len(mine) - 1 else (mine[0] if mine and position < 0
                                                                                      else None)}
    return {
        **model_admin.admin_site.each_context(request), "title": f"{case} · {case.get_priority_display()}",
        "opts": model_admin.model._meta, "case": case, "decision": decision,
        "sla": sla_state(case, timezone.now()), "sla_label": SLA_LABELS[sla_state(case, timezone.now())],
        "summary": sorted(mask_value(case.summary or {}).items()) if isinstance(case.summary, dict) else [],
        "reasons": [{"code": code, **reason_text(code, org=None, fallback="")} for code in case.reason_codes],
        "rule_path": [{**step, "note": step.get("reason_code") or step.get("error", "")}
                      for step in (decision.rule_path if decision else [])],
        "actions": case_actions_for(case) if principal.has_perm("hitl.review") else [],
        "qa_tasks": [t for t in case.tasks.all() if t.kind == TaskKind.QA] if principal.has_perm(QA_PERMISSION) else [],
        "events": _timeline(events, people),
        "notes": note_rows,
        "attachments": list(case.attachments.defer("content")),
        "appeals": list(case.appeals.select_related("assignee").all()),
        "can_resolve_appeal": principal.has_perm(appeals.RESOLVE_PERMISSION),
        "can_reveal": principal.has_perm(notes.REVEAL_PERMISSION),
        "can_note": principal.has_perm("hitl.review"),
        "can_appeal": principal.has_perm(appeals.APPEAL_SUBMIT_PERMISSION),
        "open_appeal_statuses": OPEN_APPEAL_STATUSES,
        "neighbours": {k: reverse("admin:hitl_case_change", args=[v]) if v else "" for k, v in neighbours.items()},
        "media": model_admin.media,
    }


SLA_LABELS = {"on_track": "on track", "at_risk": "at risk", "breached": "breached", "done": "done"}


def _people(labels) -> dict[str, str]:
    """actor label ("user:<id>") → e-mail, for the people this page mentions (one query)."""
    from django.contrib.auth import get_user_model

    ids = {label.split(":", 1)[1] for label in labels if label.startswith("user:")}
    rows = get_user_model().objects.filter(pk__in=ids).values_list("pk", "email") if ids else []
    return {f"user:{pk}": email for pk, email in rows}


def _timeline(events, people) -> list[dict]:
    out = []
    for event in events:
        data = event.data or {}
        detail = data.get("comment") or data.get("reason") or ""
        if event.kind.startswith("attachment"):
            detail = f"{data.get('name', '')} ({data.get('scanned', '')})".strip()
        elif event.kind == "moved":
            detail = f"{data.get('from')} → {data.get('to')}: {data.get('reason', '')}"
        elif event.kind == "assigned":
            detail = f"to {people.get(data.get('owner', ''), data.get('owner', ''))}"
        out.append({"event": event, "actor": people.get(event.actor, event.actor), "detail": detail})
    return out


def _act(request, case, principal):
    action = request.POST.get("action", "")
    updated = case_act(case=case, action=action, actor=principal,
                       comment=request.POST.get("comment", ""), outcome=request.POST.get("outcome", ""))
    messages.success(request, f"{updated}: {action.replace('_', ' ')} recorded"
                              f"{' — outcome ' + updated.outcome if updated.outcome else ''}.")


def _note(request, case, principal):
    terms = [t for t in request.POST.get("redact_terms", "").split(",") if t.strip()]
    note = notes.note_add(case=case, actor=principal, body_md=request.POST.get("body_md", ""),
                          redact_terms=terms)
    messages.success(request, "Note added" + (" (personal data redacted; the original is sealed)."
                                              if note.redacted else "."))


def _redact(request, case, principal):
    note = _note_of(case, request)
    notes.note_redact(note=note, actor=principal,
                      terms=[t for t in request.POST.get("redact_terms", "").split(",") if t.strip()])
    messages.success(request, "Note redacted; its original stays sealed.")


def _note_of(case, request):
    raw = request.POST.get("note_id", "")
    note = case.notes.filter(pk=int(raw)).first() if raw.isdigit() else None
    if note is None:
        raise notes.NoteInvalid("No such note on this case.", field="note_id")
    return note


def _reveal(request, case, principal) -> dict:
    """Four eyes: the first press asks for approval; once a colleague approved, it shows the original once."""
    note = _note_of(case, request)
    if notes.reveal_approval(note, request.user) is None:
        notes.note_reveal_request(note=note, actor=principal, reason=request.POST.get("reason", ""))
        messages.info(request, "Reveal requested: a colleague holding 'vault.unseal' approves it under Approvals; "
                               "then press Reveal again.")
        return {}
    original = notes.note_reveal(note=note, actor=principal)
    messages.warning(request, "The original of a redacted note is shown below; this was recorded on the audit "
                              "chain.")
    return {note.id: original}


def _upload(request, case, principal):
    upload = request.FILES.get("file")
    if upload is None:
        raise attachments.AttachmentRejected("no_file", "Choose a file to upload.")
    found = attachments.attachment_from_upload(case=case, upload=upload, actor=principal)
    if found.scanned == "flagged":
        messages.error(request, f"{found.name} was flagged by the virus scan ({found.scan_detail}); it will never "
                                "be served.")
    else:
        messages.success(request, f"{found.name} attached ({found.get_scanned_display().lower()}).")


def _appeal_submit(request, case, principal):
    appeal = appeals.appeal_submit(case=case, reason=request.POST.get("reason", ""), actor=principal)
    messages.success(request, f"Appeal level {appeal.level} submitted"
                              f"{' and assigned to ' + appeal.assignee.email if appeal.assignee_id else ''}.")


def _appeal_resolve(request, case, principal):
    from django.core.exceptions import ValidationError

    try:
        appeal = case.appeals.filter(pk=request.POST.get("appeal_id")).first()
    except ValidationError:
        appeal = None
    if appeal is None:
        raise appeals.AppealInvalid("No such appeal on this case.")
    resolution = request.POST.get("resolution", "")
    if resolution == "reject":
        appeals.appeal_reject(appeal=appeal, note=request.POST.get("note", ""), actor=principal)
    else:
        appeals.appeal_resolve(appeal=appeal, resolution=resolution, note=request.POST.get("note", ""),
                               actor=principal, outcome=request.POST.get("outcome", ""))
    messages.success(request, f"Appeal {resolution or 'decided'}.")


def _qa(request, case, principal):
    from hitl.models import Task

    raw = request.POST.get("task_id", "")
    task = Task.objects.filter(case=case, pk=raw).first() if is_uuid(raw) else None
    if task is None:
        raise ActionInvalid("task", "No such task on this case.")
    qa_record(task=task, verdict=request.POST.get("verdict", ""), note=request.POST.get("note", ""),
              actor=principal)
    messages.success(request, f"QA {request.POST.get('verdict')} recorded.")


_OPS = {"act": _act, "note": _note, "redact": _redact, "reveal": _reveal, "upload": _upload,
        "appeal_submit": _appeal_submit, "appeal_resolve": _appeal_resolve, "qa": _qa}
