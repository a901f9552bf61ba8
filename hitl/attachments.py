"""Case attachments: what reviewers and applicants send as evidence.

Accepted only when the content itself is an allowed type (sniffed from the bytes with ``filetype``;
the client's Content-Type and the file name must agree with it), within the size limit. Every file
gets a sha256 and a scan: the built-in EICAR check runs at once; when ``CLAMD_SOCKET`` is set the
file stays ``pending`` until ClamAV has answered (a Celery task). Only ``ok`` files are ever served.
"""

from __future__ import annotations

import hashlib
import socket
import struct
from pathlib import PurePosixPath, PureWindowsPath
from typing import Protocol

import filetype
from django.conf import settings
from django.db import transaction

from dos.authz import action, authorize
from dos.errors import DomainError
from hitl.choices import ScanStatus
from hitl.models import Attachment, Case
from hitl.services import case_event, clock

# mime → the file name extensions that may carry it
ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "text/plain": (".txt", ".csv", ".md"),
}
_MIME_ALIASES = {"image/jpg": "image/jpeg", "text/csv": "text/plain", "text/markdown": "text/plain"}
# The industry-standard antivirus test file (www.eicar.org): harmless, and every scanner flags it.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class AttachmentRejected(DomainError):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message, code=code, status=status, errors={"file": [message]})


class AttachmentUnavailable(DomainError):
    """Flagged or not yet scanned: never served (409 ``attachment_flagged`` / ``attachment_pending``)."""

    status = 409

    def __init__(self, attachment: Attachment):
        flagged = attachment.scanned == ScanStatus.FLAGGED
        super().__init__("This file was flagged by the virus scan and is never served." if flagged
                         else "This file is still being scanned; try again shortly.",
                         code=f"attachment_{attachment.scanned}", scanned=attachment.scanned)


class Scanner(Protocol):
    name: str

    def scan(self, content: bytes) -> tuple[str, str]:
        """(ScanStatus, detail). Raise OSError when the scanner cannot be reached."""


class EicarScanner:
    name = "eicar"

    def scan(self, content: bytes) -> tuple[str, str]:
        if EICAR in content:
            return ScanStatus.FLAGGED, "Eicar-Test-Signature (built-in check)"
        return ScanStatus.OK, ""


class ClamdScanner:
    """clamd's INSTREAM command over its unix socket (chunks prefixed by a 4-byte big-endian size)."""

    name = "clamd"
    CHUNK = 64 * 1024

    def __init__(self, path: str, timeout: float = 30.0):
        self.path, self.timeout = path, timeout

    def scan(self, content: bytes) -> tuple[str, str]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(self.path)
            sock.sendall(b"zINSTREAM\0")
            for start in range(0, len(content), self.CHUNK):
                chunk = content[start:start + self.CHUNK]
                sock.sendall(struct.pack(">I", len(chunk)) + chunk)
            sock.sendall(struct.pack(">I", 0))
            reply = b""
            while not reply.endswith(b"\0"):
                part = sock.recv(4096)
                if not part:
                    break
                reply += part
        text = reply.rstrip(b"\0").decode(errors="replace")
        if text.endswith("OK"):
            return ScanStatus.OK, ""
        if text.endswith("FOUND"):
            return ScanStatus.FLAGGED, text.split(":", 1)[-1].removesuffix("FOUND").strip()[:200]
        raise OSError(f"clamd answered {text[:100]!r}")


def sniff(content: bytes) -> str | None:
    """The mime type the bytes really are (None when unknown)."""
    kind = filetype.guess_mime(content)
    if kind:
        return kind
    head = content[:8192]
    if b"\0" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the window's edge is fine
            return None
    return "text/plain"


def safe_name(name: str) -> str:
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"\\/<>:|?*').strip(" .")
    return base[:200] or "attachment"


def _check(name: str, content: bytes, declared_mime: str) -> str:
    limit = settings.HITL_ATTACHMENT_MAX_BYTES
    if not content:
        raise AttachmentRejected("empty_file", "The file is empty.")
    if len(content) > limit:
        raise AttachmentRejected("too_large", f"The file is {len(content)} bytes; the limit is {limit} bytes.", 413)
    mime = sniff(content)
    if mime not in ALLOWED_TYPES:
        raise AttachmentRejected("unsupported_type", f"Files of type {mime or 'unknown'} are not accepted; "
                                 f"allowed: {', '.join(ALLOWED_TYPES)}.", 415)
    declared = _MIME_ALIASES.get(declared_mime.split(";")[0].strip().lower(), declared_mime.split(";")[0].strip().lower())
    if declared and declared != "application/octet-stream" and declared != mime:
        raise AttachmentRejected("mime_mismatch", f"The file says it is {declared} but its content is {mime}.", 415)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in ALLOWED_TYPES[mime]:
        raise AttachmentRejected("mime_mismatch", f"A {mime} file cannot be named '*{suffix or '(no extension)'}'; "
                                 f"use {', '.join(ALLOWED_TYPES[mime])}.", 415)
    return mime


ATTACH = action("case.attach", "hitl.review")


def attachment_add(*, case: Case, name: str, content: bytes, declared_mime: str = "", actor,
                   now=None) -> Attachment:
    """Check, fingerprint and store a file on the case, then scan it (see the module docstring)."""
    from dos.audit import actor_label

    uploaded_by = authorize(actor, ATTACH)
    name = safe_name(name)
    mime = _check(name, content, declared_mime or "")
    status, detail = EicarScanner().scan(content)
    if status == ScanStatus.OK and settings.CLAMD_SOCKET:
        status, detail = ScanStatus.PENDING, "waiting for ClamAV"
    with transaction.atomic():
        attachment = Attachment.objects.create(
            org_id=case.org_id, case=case, name=name, mime=mime, size=len(content),
            sha256=hashlib.sha256(content).hexdigest(), content=content, scanned=status, scan_detail=detail,
            uploaded_by=actor_label(uploaded_by), created_at=now or clock())
        case_event(case, "attachment", uploaded_by, {"attachment_id": str(attachment.id), "name": name, "mime": mime,
                                                     "size": len(content), "sha256": attachment.sha256,
                                                     "scanned": status, **({"detail": detail} if detail else {})})
        if status == ScanStatus.PENDING:
            from hitl.tasks import attachment_scan

            transaction.on_commit(lambda: attachment_scan.delay(org_id=str(case.org_id),
                                                                     attachment_id=str(attachment.id)))
    return attachment


def attachment_from_upload(*, case: Case, upload, actor) -> Attachment:
    """``attachment_add`` for an uploaded file; the size is checked before the file is read."""
    authorize(actor, ATTACH)
    limit = settings.HITL_ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise AttachmentRejected("too_large", f"The file is {upload.size} bytes; the limit is {limit} bytes.", 413)
    return attachment_add(case=case, name=upload.name, content=upload.read(), declared_mime=upload.content_type or "",
                          actor=actor)


def attachment_scan(attachment: Attachment, scanner: Scanner | None = None) -> str:
    """Run the external scanner on a pending file and record the verdict (once)."""
    scanner = scanner or ClamdScanner(settings.CLAMD_SOCKET)
    with transaction.atomic():
        attachment = Attachment.objects.select_for_update().select_related("case").get(pk=attachment.pk)
        if attachment.scanned != ScanStatus.PENDING:
            return attachment.scanned
        status, detail = scanner.scan(bytes(attachment.content))
        attachment.scanned, attachment.scan_detail = status, detail
        attachment.save(update_fields=["scanned", "scan_detail"])
        case_event(attachment.case, "attachment_scanned", f"system:{scanner.name}",
                   {"attachment_id": str(attachment.id), "scanned": status, **({"detail": detail} if detail else {})})
    return status


def attachment_content(attachment: Attachment) -> bytes:
    if attachment.scanned != ScanStatus.OK:
        raise AttachmentUnavailable(attachment)
    return bytes(attachment.content)
