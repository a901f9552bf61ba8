"""Case notes: Markdown written by reviewers, with redaction that seals the original in the vault.

A note whose text carries personal identifiers (RRN, card, phone, account, e-mail — ``dos.pii``) or
terms the author asks to redact is stored masked; the original is sealed (``dos.vault``: vault v2,
AES-256-GCM under the data key of the case's subject — the decision's subject token, or the case
itself when it has no decision — bound to org, table, row and field; erasing the subject makes the
original unreadable). Revealing it is ``vault.unseal`` under four eyes: a person
holding ``vault.unseal`` asks (an approval request), a second one approves, and the asker may then
read the original once; each step is on the audit chain. The timeline and the chain carry the note's id and
length, never its text.
"""

from __future__ import annotations

import datetime as dt
import re

from django.db import transaction
from markdown_it import MarkdownIt

from dos.audit import actor_label, audit_record
from dos.authz import PermissionRefused, action, authorize, system_actor
from dos.errors import FieldErrors
from dos.pii import mask_text
from dos.vault import vault
from hitl.models import Case, CaseNote
from hitl.services import case_event, clock

PURPOSE = "hitl.case_note"
SEALED_TABLE, SEALED_FIELD = "hitl_casenote", "body_md"
# Sealing protects the text the note action (authorized above) is writing; it is done in the vault's name.
SEALER = system_actor("hitl.case_note")
MAX_NOTE_CHARS = 20_000
REVEAL_PERMISSION = "vault.unseal"
REVEAL_ACTION = "vault.unseal"  # the four-eyes action of tenancy.approvals
NOTE_ADD = action("case.note", "hitl.review")
NOTE_REDACT = action("case.note_redact", "hitl.review")
NOTE_REVEAL_REQUEST = action("case.note_reveal_request", REVEAL_PERMISSION)
NOTE_REVEAL = action("case.note_reveal", REVEAL_PERMISSION)
REVEAL_APPROVAL_VALID = dt.timedelta(hours=24)
# CommonMark with raw HTML off: "<script>" is shown as text; markdown-it refuses javascript: links.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})


class NoteInvalid(FieldErrors):
    def __init__(self, message: str, field: str = "body_md"):
        super().__init__({field: [message]}, message)


class NoteRevealRefused(PermissionRefused):
    def __init__(self, message: str, code: str = "four_eyes"):
        super().__init__(message, permission=REVEAL_PERMISSION, code=code)


def render_markdown(text: str) -> str:
    """Safe HTML for a note body (raw HTML escaped, dangerous link schemes dropped)."""
    return _MARKDOWN.render(text or "")


def masked(text: str, terms=()) -> str:
    """The text as shown: identifiers masked, and each requested term replaced by [REDACTED]."""
    out = mask_text(text)
    for term in sorted({t.strip() for t in terms if t and t.strip()}, key=len, reverse=True):
        out = re.sub(re.escape(term), "[REDACTED]", out, flags=re.IGNORECASE)
    return out


def _clean_terms(terms) -> list[str]:
    terms = [str(t) for t in (terms or [])]
    if len(terms) > 50 or any(len(t) > 200 for t in terms):
        raise NoteInvalid("Up to 50 terms of at most 200 characters each.", field="redact_terms")
    return terms


def note_add(*, case: Case, actor, body_md: str, redact_terms=(), now=None) -> CaseNote:
    """Add a note to the case timeline; personal data is redacted automatically."""
    author = authorize(actor, NOTE_ADD)
    author = getattr(author, "user", None) or author
    body = (body_md or "").strip()
    if not body:
        raise NoteInvalid("A note cannot be empty.")
    if len(body) > MAX_NOTE_CHARS:
        raise NoteInvalid(f"A note holds at most {MAX_NOTE_CHARS} characters.")
    shown = masked(body, _clean_terms(redact_terms))
    now = now or clock()
    with transaction.atomic():
        note = CaseNote(org_id=case.org_id, case=case, author=author if getattr(author, "pk", None) else None,
                        author_label=actor_label(author), body_md=shown, redacted=shown != body, created_at=now)
        note.save()
        if note.redacted:
            note.sealed = _seal(case, note, body)
            note.save(update_fields=["sealed"])
        case_event(case, "note", author, {"note_id": note.id, "chars": len(body), "redacted": note.redacted})
    return note


def note_redact(*, note: CaseNote, actor, terms) -> CaseNote:
    """Redact more of a note after the fact; the first original stays sealed."""
    actor = authorize(actor, NOTE_REDACT)
    terms = _clean_terms(terms)
    if not any(t.strip() for t in terms):
        raise NoteInvalid("Say which words to redact.", field="redact_terms")
    with transaction.atomic():
        note = CaseNote.objects.select_for_update().get(pk=note.pk)
        shown = masked(note.body_md, terms)
        if shown == note.body_md:
            raise NoteInvalid("None of those words appear in the note.", field="redact_terms")
        if not note.redacted:
            note.sealed = _seal(note.case, note, note.body_md)
        note.body_md, note.redacted = shown, True
        note.save(update_fields=["body_md", "redacted", "sealed"])
        case_event(note.case, "note_redacted", actor, {"note_id": note.id, "terms": len(terms)})
    return note


def note_subject(case: Case) -> str:
    """Whose data key seals the case's notes: the decision's subject, else the case itself."""
    if case.decision_id:
        from decisions.models import DecisionRecord

        token = DecisionRecord.objects.filter(id=case.decision_id).values_list("subject_token", flat=True).first()
        if token:
            return token
    return f"case:{case.id}"


def _seal(case: Case, note: CaseNote, text: str) -> bytes:
    return vault().seal(actor=SEALER, org_id=note.org_id, subject_token=note_subject(case), table=SEALED_TABLE,
                        row=str(note.pk), field=SEALED_FIELD, plaintext=text.encode()).encode()


def _note_target(note: CaseNote) -> str:
    return f"case_note:{note.pk}"


def note_reveal_request(*, note: CaseNote, actor, reason: str = ""):
    """Ask to read a redacted note's original; a second holder of ``vault.unseal`` must approve.
    An open request of the same person for the same note is returned rather than duplicated."""
    from tenancy.approvals import approval_require
    from tenancy.choices import ApprovalStatus
    from tenancy.models import ApprovalRequest, Org

    actor = authorize(actor, NOTE_REVEAL_REQUEST)
    user = getattr(actor, "user", None)
    if user is None:
        raise NoteRevealRefused("Revealing personal data needs a person.", code="person_required")
    if not note.redacted or not note.sealed:
        raise NoteInvalid("This note has nothing sealed to reveal.", field="note_id")
    pending = ApprovalRequest.objects.filter(action=REVEAL_ACTION, target=_note_target(note), requested_by=user,
                                             status=ApprovalStatus.PENDING).first()
    return pending or approval_require(org=Org.objects.get(id=note.org_id), action=REVEAL_ACTION,
                                       target=_note_target(note), requested_by=user,
                                       payload={"case_id": str(note.case_id), "note_id": note.pk},
                                       reason=(reason or "")[:500])


def reveal_approval(note: CaseNote, user, *, now=None):
    """The approved, unused reveal request of ``user`` for ``note`` (approved within 24 hours)."""
    from tenancy.choices import ApprovalStatus
    from tenancy.models import ApprovalRequest

    now = now or clock()
    return (ApprovalRequest.objects.filter(action=REVEAL_ACTION, target=_note_target(note), requested_by=user,
                                           status=ApprovalStatus.APPROVED,
                                           decided_at__gte=now - REVEAL_APPROVAL_VALID)
            .exclude(payload__has_key="revealed_at").order_by("-decided_at").first())


def note_reveal(*, note: CaseNote, actor, now=None) -> str:
    """The original text of a redacted note, for the person whose reveal request a second person
    approved; the approval is used up and the reveal recorded on the audit chain."""
    actor = authorize(actor, NOTE_REVEAL)
    user = getattr(actor, "user", None)
    if user is None:
        raise NoteRevealRefused("Revealing personal data needs a person.", code="person_required")
    if not note.redacted or not note.sealed:
        return note.body_md
    now = now or clock()
    with transaction.atomic():
        approval = reveal_approval(note, user, now=now)
        if approval is None:
            raise NoteRevealRefused("Revealing a sealed note needs a second person's approval (four eyes): "
                                    "request it, and a colleague holding 'vault.unseal' approves it.")
        approval = type(approval).objects.select_for_update().get(pk=approval.pk)
        if "revealed_at" in approval.payload:
            raise NoteRevealRefused("That approval was used already; request a new one.")
        approval.payload = {**approval.payload, "revealed_at": now.isoformat()}
        approval.save(update_fields=["payload"])
        audit_record(org_id=note.org_id, action="hitl.note.revealed", actor=actor_label(actor),
                     target=f"case:{note.case_id}", data={"note_id": note.id, "approval": str(approval.pk)})
        return vault().unseal(actor=actor, org_id=note.org_id, sealed=bytes(note.sealed), purpose=PURPOSE,
                              approval=approval, now=now).decode()
