"""Attachments as HTTP downloads, for the tenant API and the back office alike (view helpers: the
attachment services themselves never build a response)."""

from __future__ import annotations

from hitl.attachments import attachment_content
from hitl.models import Attachment


def attachment_response(attachment: Attachment):
    """The file as an HTTP download (never rendered inline, never cached); raises
    AttachmentUnavailable for flagged or pending files."""
    from django.http import HttpResponse
    from django.utils.http import content_disposition_header

    response = HttpResponse(attachment_content(attachment), content_type=attachment.mime)
    # RFC 6266: an ASCII filename, plus filename*= for names such as 소득증빙.pdf
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=attachment.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
