"""Domain refusals of the HITL services, answered as problem+json."""

from __future__ import annotations

from contextlib import contextmanager

from dos.api.errors import Problem, invalid_fields
from hitl.actions import ActionInvalid, ActionRefused, IllegalTransition
from hitl.appeals import AppealInvalid
from hitl.attachments import AttachmentRejected
from hitl.notes import NoteInvalid
from tenancy.approvals import FourEyesViolation


@contextmanager
def refusals_answered():
    """Domain refusals from the HITL services → problem+json (409 / 403 / 400 / 413 / 415)."""
    try:
        yield
    except IllegalTransition as exc:
        raise Problem(409, "illegal_transition", str(exc), allowed=exc.allowed) from exc
    except ActionRefused as exc:
        raise Problem(403, exc.code, str(exc), permission=exc.permission) from exc
    except FourEyesViolation as exc:
        raise Problem(403, "four_eyes", str(exc)) from exc
    except (ActionInvalid, NoteInvalid) as exc:
        raise invalid_fields(exc.errors, str(exc)) from exc
    except AppealInvalid as exc:
        if exc.field:
            raise invalid_fields(exc.errors, str(exc)) from exc
        raise Problem(409, "appeal_not_allowed", str(exc)) from exc
    except AttachmentRejected as exc:
        raise Problem(exc.status, exc.code, str(exc), errors=exc.errors) from exc
