"""Case notes: Markdown written by reviewers, with redaction that seals the original in the vault.

A note whose text carries personal identifiers (RRN, card, phone, account, e-mail — ``dos.pii``) or
terms the author asks to redact is stored masked; the original is sealed (``dos.vault``, AES-GCM,
bound to the org and to this purpose) and only a person holding ``hitl.approve`` can reveal it,
which is itself recorded on the audit chain. The timeline and the chain carry the note's id and
length, never its text.
"""

from __future__ import annotations

import re

from django.db import transaction
from markdown_it import MarkdownIt

from dos.audit import actor_label, audit_record
from dos.pii import mask_text
from dos.vault import vault
from hitl.models import Case, CaseNote
from hitl.services import case_event, clock

PURPOSE = "hitl.case_note"
MAX_NOTE_CHARS = 20_000
REVEAL_PERMISSION = "hitl.approve"
# CommonMark with raw HTML off: "<script>" is shown as text; markdown-it refuses javascript: links.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})


class NoteInvalid(ValueError):
    def __init__(self, message: str, field: str = "body_md"):
        super().__init__(message)
        self.errors = {field: [message]}


class NoteRevealRefused(PermissionError):
    pass


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


def note_add(*, case: Case, author, body_md: str, redact_terms=(), now=None) -> CaseNote:
    """Add a note to the case timeline; personal data is redacted automatically."""
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
        if note.redacted:
            note.sealed = vault().seal(org_id=case.org_id, purpose=PURPOSE, plaintext=body.encode())
        note.save()
        case_event(case, "note", author, {"note_id": note.id, "chars": len(body), "redacted": note.redacted})
    return note


def note_redact(*, note: CaseNote, actor, terms) -> CaseNote:
    """Redact more of a note after the fact; the first original stays sealed."""
    terms = _clean_terms(terms)
    if not any(t.strip() for t in terms):
        raise NoteInvalid("Say which words to redact.", field="redact_terms")
    with transaction.atomic():
        note = CaseNote.objects.select_for_update().get(pk=note.pk)
        shown = masked(note.body_md, terms)
        if shown == note.body_md:
            raise NoteInvalid("None of those words appear in the note.", field="redact_terms")
        if not note.redacted:
            note.sealed = vault().seal(org_id=note.org_id, purpose=PURPOSE, plaintext=note.body_md.encode())
        note.body_md, note.redacted = shown, True
        note.save(update_fields=["body_md", "redacted", "sealed"])
        case_event(note.case, "note_redacted", actor, {"note_id": note.id, "terms": len(terms)})
    return note


def note_reveal(*, note: CaseNote, user, permissions) -> str:
    """The original text of a redacted note, for a senior reviewer; audited."""
    if REVEAL_PERMISSION not in permissions:
        raise NoteRevealRefused(f"Revealing a redacted note needs the '{REVEAL_PERMISSION}' permission.")
    if not note.redacted or not note.sealed:
        return note.body_md
    audit_record(org_id=note.org_id, action="hitl.note.revealed", actor=actor_label(user),
                 target=f"case:{note.case_id}", data={"note_id": note.id})
    return vault().unseal(org_id=note.org_id, purpose=PURPOSE, sealed=note.sealed).decode()
