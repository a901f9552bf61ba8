"""Notes (redaction sealed in the vault) and attachments (sniffed types, sha256, virus scan, never
serving flagged or pending files) — through the services and the tenant API."""

import hashlib
import socket
import struct
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dos import scope
from dos.authz import PermissionRefused
from dos.models import LedgerEntry
from dos.vault import VaultError, vault
from hitl import attachments
from hitl.attachments import EICAR, AttachmentRejected, ClamdScanner
from hitl.choices import CaseSource, ScanStatus
from hitl.models import Attachment, CaseEvent, CaseNote
from hitl.notes import NoteRevealRefused, note_add, note_redact, note_reveal, note_reveal_request, render_markdown
from hitl.services import case_open
from tenancy.approvals import FourEyesViolation
from tests.conftest import api_client
from tests.factories import as_member, default_project
from tests.hitl.test_api import _person_key

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489") + b"\0" * 16


@pytest.fixture
def case(acme, desk):
    with scope.org_scope(acme.id):
        return case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.ADMIN, actor="system:test")


@pytest.fixture
def alice_api(acme, alice, desk):
    return api_client(_person_key(acme, alice, ["hitl.review", "decisions.read"]))


def _upload(api, case_id, name, content, content_type):
    return api.post(f"/api/v1/hitl/cases/{case_id}/attachments",
                    {"file": SimpleUploadedFile(name, content, content_type=content_type)}, format="multipart")


def test_a_note_with_personal_data_is_shown_masked_and_its_original_sealed(acme, case, alice, bob, olivia):
    original = "Called **applicant** on 010-1234-5678; lives at 12 Mapo-ro, says Kim Minsu."
    with scope.org_scope(acme.id):
        note = note_add(case=case, actor=as_member(acme, alice), body_md=original, redact_terms=["Kim Minsu"])
        assert note.redacted and "010-1234-5678" not in note.body_md and "Kim Minsu" not in note.body_md
        assert "[PHONE]" in note.body_md and "[REDACTED]" in note.body_md
        assert original.encode() not in bytes(note.sealed)
        with pytest.raises(PermissionRefused):
            note_reveal(note=note, actor=as_member(acme, alice))  # reviewers do not hold vault.unseal
        assert _reveal_with_four_eyes(acme, note, asker=bob, approver=olivia) == original
        event = CaseEvent.objects.get(case=case, kind="note")
        assert "applicant" not in str(event.data) and event.data["redacted"] is True
        later = note_add(case=case, actor=as_member(acme, alice), body_md="Income slip matches the employer letter.")
        assert not later.redacted and later.sealed is None
        note_redact(note=later, actor=as_member(acme, bob), terms=["employer"])
        later.refresh_from_db()
        assert "[REDACTED]" in later.body_md and later.redacted
        assert _reveal_with_four_eyes(acme, later, asker=bob, approver=olivia).endswith("employer letter.")


def _reveal_with_four_eyes(org, note, *, asker, approver) -> str:
    from tenancy.approvals import approval_grant

    with pytest.raises(NoteRevealRefused) as refused:
        note_reveal(note=note, actor=as_member(org, asker))  # nobody reads an original on their own say
    assert refused.value.code == "four_eyes"
    request = note_reveal_request(note=note, actor=as_member(org, asker), reason="applicant disputes the call")
    assert note_reveal_request(note=note, actor=as_member(org, asker)).pk == request.pk  # no duplicate requests
    with pytest.raises(FourEyesViolation):
        approval_grant(request=request, actor=as_member(org, asker))
    approval_grant(request=request, actor=as_member(org, approver))
    original = note_reveal(note=note, actor=as_member(org, asker))
    with pytest.raises(NoteRevealRefused):
        note_reveal(note=note, actor=as_member(org, asker))  # an approval is good for one reveal
    assert LedgerEntry.objects.filter(chain="audit", action="hitl.note.revealed").exists()
    return original


def test_a_reveal_approval_is_the_askers_alone(acme, case, alice, bob, olivia):
    from tenancy.approvals import approval_grant

    with scope.org_scope(acme.id):
        note = note_add(case=case, actor=as_member(acme, alice), body_md="Call 010-1234-5678 back.")
        approval_grant(request=note_reveal_request(note=note, actor=as_member(acme, bob)),
                       actor=as_member(acme, olivia))
        with pytest.raises(NoteRevealRefused):
            note_reveal(note=note, actor=as_member(acme, olivia))  # the approver did not ask
        assert "010-1234-5678" in note_reveal(note=note, actor=as_member(acme, bob))


def test_sealed_originals_open_only_for_their_org_and_place(acme, outsider):
    from dos.authz import system_actor

    job = system_actor("test")
    sealed = vault().seal(actor=job, org_id=acme.id, subject_token="vt_x", table="hitl_casenote", row="1",
                          field="body_md", plaintext=b"secret")
    assert vault().unseal(actor=job, org_id=acme.id, purpose="hitl.case_note", sealed=sealed) == b"secret"
    with pytest.raises(VaultError):
        vault().unseal(actor=job, org_id=outsider.id, purpose="hitl.case_note", sealed=sealed)


def test_markdown_notes_render_without_raw_html_or_script_links():
    html = render_markdown("**ok** <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>ok</strong>" in html and "<script>" not in html and 'href="javascript' not in html


def test_notes_through_the_api(acme, case, alice_api):
    created = alice_api.post(f"/api/v1/hitl/cases/{case.id}/notes", {"body_md": "mail me at kim@example.com"},
                             format="json")
    assert created.status_code == 201 and created.json()["body_md"] == "mail me at [EMAIL]"
    assert created.json()["redacted"] is True
    empty = alice_api.post(f"/api/v1/hitl/cases/{case.id}/notes", {"body_md": "  "}, format="json")
    assert empty.status_code == 400 and "body_md" in empty.json()["errors"]
    assert [n["body_md"] for n in alice_api.get(f"/api/v1/hitl/cases/{case.id}/notes").json()] == [
        "mail me at [EMAIL]"]


def test_a_clean_pdf_is_stored_with_its_sha256_and_served_back(acme, case, alice_api):
    response = _upload(alice_api, case.id, "payslip.pdf", PDF, "application/pdf")
    body = response.json()
    assert response.status_code == 201 and (body["mime"], body["scanned"]) == ("application/pdf", "ok")
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest() and body["size"] == len(PDF)
    download = alice_api.get(body["download"])
    assert download.status_code == 200 and download.content == PDF
    assert download["Content-Type"] == "application/pdf" and download["X-Content-Type-Options"] == "nosniff"
    assert 'filename="payslip.pdf"' in download["Content-Disposition"]
    korean = _upload(alice_api, case.id, "소득증빙.pdf", PDF, "application/pdf").json()
    assert "filename*=utf-8''" in alice_api.get(korean["download"])["Content-Disposition"]


def test_an_eicar_upload_is_flagged_and_never_served(acme, case, alice_api):
    response = _upload(alice_api, case.id, "statement.txt", EICAR + b"\n", "text/plain")
    body = response.json()
    assert response.status_code == 201 and body["scanned"] == "flagged" and body["download"] is None
    refused = alice_api.get(f"/api/v1/hitl/cases/{case.id}/attachments/{body['id']}")
    assert refused.status_code == 409 and refused.json()["code"] == "attachment_flagged"
    assert EICAR not in refused.content
    with scope.org_scope(acme.id):
        assert CaseEvent.objects.get(case=case, kind="attachment").data["scanned"] == "flagged"


def test_oversize_and_mismatched_uploads_are_rejected_and_nothing_is_stored(acme, case, alice_api, settings):
    settings.HITL_ATTACHMENT_MAX_BYTES = 1024
    too_big = _upload(alice_api, case.id, "big.pdf", PDF + b"0" * 2048, "application/pdf")
    assert too_big.status_code == 413 and too_big.json()["code"] == "too_large"
    claims_pdf = _upload(alice_api, case.id, "scan.pdf", PNG, "application/pdf")
    assert claims_pdf.status_code == 415 and claims_pdf.json()["code"] == "mime_mismatch"
    assert "image/png" in claims_pdf.json()["errors"]["file"][0]
    renamed = _upload(alice_api, case.id, "scan.pdf", PNG, "application/octet-stream")
    assert renamed.status_code == 415 and renamed.json()["code"] == "mime_mismatch"
    executable = _upload(alice_api, case.id, "run.exe", b"MZ\x90\x00" + b"\0" * 64, "application/octet-stream")
    assert executable.status_code == 415 and executable.json()["code"] == "unsupported_type"
    with scope.org_scope(acme.id):
        assert not Attachment.objects.exists()


def test_with_clamd_configured_files_wait_pending_until_the_scan_answers(acme, case, alice, settings, tmp_path,
                                                                      monkeypatch):
    path = str(tmp_path / "clamd.sock")
    server = _FakeClamd(path, verdict=b"stream: Win.Test.Fake-1 FOUND\0")
    settings.CLAMD_SOCKET = path
    monkeypatch.setattr("hitl.tasks.attachment_scan.delay", lambda **kw: None)  # the task is run by hand below
    with scope.org_scope(acme.id):
        pending = attachments.attachment_add(case=case, name="id.png", content=PNG, declared_mime="image/png",
                                             actor=as_member(acme, alice))
        assert pending.scanned == ScanStatus.PENDING
        with pytest.raises(attachments.AttachmentUnavailable):
            attachments.attachment_content(pending)
        assert attachments.attachment_scan(pending) == ScanStatus.FLAGGED
        pending.refresh_from_db()
        assert pending.scan_detail == "Win.Test.Fake-1"
    assert server.received == PNG  # the whole file went over INSTREAM


def test_an_outsider_cannot_read_or_add_evidence(acme, outsider, mallory, case, alice_api):
    uploaded = _upload(alice_api, case.id, "payslip.pdf", PDF, "application/pdf").json()
    outsider_api = api_client(_person_key(outsider, mallory, ["hitl.review", "decisions.run", "decisions.read"]))
    assert outsider_api.get(uploaded["download"]).status_code == 404
    for url in (f"/api/v1/hitl/cases/{case.id}/notes", f"/api/v1/hitl/cases/{case.id}/attachments"):
        assert outsider_api.get(url).status_code == 404
    assert outsider_api.post(f"/api/v1/hitl/cases/{case.id}/notes", {"body_md": "x"}, format="json").status_code == 404
    assert _upload(outsider_api, case.id, "a.pdf", PDF, "application/pdf").status_code == 404
    assert outsider_api.post(f"/api/v1/hitl/cases/{case.id}/appeal", {"reason": "x"}, format="json").status_code == 404
    with scope.org_scope(acme.id):
        assert CaseNote.objects.count() == 0 and Attachment.objects.count() == 1


def test_rejections_name_the_problem():
    with pytest.raises(AttachmentRejected) as empty:
        attachments._check("a.txt", b"", "")
    assert empty.value.code == "empty_file"


class _FakeClamd:
    """A one-shot clamd speaking the INSTREAM protocol on a unix socket (for the adapter's contract)."""

    def __init__(self, path: str, verdict: bytes):
        self.verdict, self.received = verdict, b""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        threading.Thread(target=self._serve, daemon=True).start()

    def _read(self, conn, n: int) -> bytes:
        data = b""
        while len(data) < n:
            data += conn.recv(n - len(data))
        return data

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            assert self._read(conn, len(b"zINSTREAM\0")) == b"zINSTREAM\0"
            while size := struct.unpack(">I", self._read(conn, 4))[0]:
                self.received += self._read(conn, size)
            conn.sendall(self.verdict)
        self.sock.close()


def test_the_clamd_adapter_reads_a_clean_verdict(tmp_path):
    path = str(tmp_path / "c.sock")
    _FakeClamd(path, verdict=b"stream: OK\0")
    assert ClamdScanner(path).scan(PDF) == (ScanStatus.OK, "")


@pytest.mark.django_db(transaction=True)
def test_a_pending_file_is_scanned_by_the_worker_after_commit(celery_worker, acme, desk, alice, settings, tmp_path,
                                                             monkeypatch):
    from hitl import tasks

    path = str(tmp_path / "clamd.sock")
    server = _FakeClamd(path, verdict=b"stream: OK\0")
    settings.CLAMD_SOCKET = path
    sent, original = [], tasks.attachment_scan.delay
    monkeypatch.setattr(tasks.attachment_scan, "delay", lambda **kw: sent.append(original(**kw)) or sent[-1])
    with scope.org_scope(acme.id):
        case = case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.ADMIN, actor="system:test")
        attachment = attachments.attachment_add(case=case, name="id.png", content=PNG, declared_mime="image/png",
                                                actor=as_member(acme, alice))
        assert attachment.scanned == ScanStatus.PENDING and sent == []  # queued only once the upload commits
    assert sent[0].get(timeout=60) == ScanStatus.OK
    assert server.received == PNG
    with scope.org_scope(acme.id):
        attachment.refresh_from_db()
        assert attachment.scanned == ScanStatus.OK and attachments.attachment_content(attachment) == PNG
        assert CaseEvent.objects.filter(case=case, kind="attachment_scanned").count() == 1
