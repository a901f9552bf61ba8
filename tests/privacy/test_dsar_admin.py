"""The privacy back office: the DSAR queue with deadlines, verification, timeline, export download and
rejection; the overview; retention runs approved by a second person; legal holds placed and released."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.test import Client
from django.utils import timezone

from dos import scope
from dos.models import OutboxEvent
from privacy.models import DsarRequest, LegalHold, RetentionRun
from privacy.retention.services import retention_plan
from tests.factories import as_member, verified_client
from tests.privacy.dsar_world import applicant, approve_erasure, approve_handover, run, submitted

pytestmark = pytest.mark.django_db
QUEUE = "/admin/privacy/dsarrequest/"


def test_the_queue_shows_deadlines_and_verifies_with_a_confirmation(client, acme, lending, priya,
                                                                   django_assert_max_num_queries):
    applicant(acme)
    late = submitted(acme, "access")
    with scope.org_scope(acme.id):
        DsarRequest.objects.filter(pk=late.pk).update(due_at=timezone.now() - dt.timedelta(days=1))
    fresh = submitted(acme, "erasure")
    c = verified_client(client, priya)
    with django_assert_max_num_queries(40):
        page = c.get(QUEUE)
    text = page.content.decode()
    assert page.status_code == 200 and late.reference in text and fresh.reference in text
    assert "일 경과" in text and "일 남음" in text  # the back office speaks Korean: days overdue, days left
    assert c.get(QUEUE + "?deadline=overdue").content.decode().count("DSAR-") >= 1
    ask = c.post(QUEUE, {"action": "verify_document", "_selected_action": [str(fresh.pk)]})
    assert ask.status_code == 200 and "정보주체 본인 확인" in ask.content.decode()
    c.post(QUEUE, {"action": "verify_document", "_selected_action": [str(fresh.pk)], "confirmed": "yes"})
    with scope.org_scope(acme.id):
        fresh.refresh_from_db()
        assert fresh.verified_by_id == priya.pk and fresh.approval.status == "pending"
    overview = c.get(QUEUE + "overview/")
    assert overview.status_code == 200 and "다가오는 기한" in overview.content.decode()  # next deadlines


def test_the_request_page_shows_the_timeline_and_hands_over_the_zip(client, acme, lending, priya, pedro):
    applicant(acme)
    request = submitted(acme, "access")
    with scope.org_scope(acme.id):
        from privacy.dsar.services import dsar_verify

        dsar_verify(request=request, actor=as_member(acme, priya), method="document")
    assert run(acme, request) == "collect"  # waits for a second person to approve the hand-over
    approve_handover(acme, request, pedro)
    run(acme, request)
    c = verified_client(client, pedro)
    page = c.get(f"{QUEUE}{request.pk}/change/")
    assert page.status_code == 200 and b"step.export" in page.content and b"subject_export.zip" in page.content
    download = c.get(f"{QUEUE}{request.pk}/export/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content) if download.streaming
                                    else download.content)) as bundle:
        assert "summary.pdf" in bundle.namelist()


def test_a_request_is_rejected_with_a_reason(client, acme, priya):
    request = submitted(acme, "access")
    c = verified_client(client, priya)
    assert c.get(f"{QUEUE}{request.pk}/reject/").status_code == 200
    c.post(f"{QUEUE}{request.pk}/reject/", {"reason": "The identity could not be confirmed."})
    with scope.org_scope(acme.id):
        assert DsarRequest.objects.get(pk=request.pk).state == "rejected"


def test_a_reviewer_sees_no_privacy_pages(client, acme, alice):
    c = verified_client(client, alice)
    assert c.get(QUEUE).status_code == 403
    assert c.get(QUEUE + "overview/").status_code == 403
    assert c.get("/admin/privacy/retentionrun/").status_code == 403


def test_a_retention_run_is_approved_in_the_admin_by_someone_else(client, acme, lending, priya, pedro):
    with scope.org_scope(acme.id):
        OutboxEvent.objects.bulk_create([OutboxEvent(org_id=acme.id, topic="t", key=str(i), status="delivered",
                                                     created_at=timezone.now() - dt.timedelta(days=9))
                                         for i in range(4)])
        run_ = retention_plan(org_id=acme.id, actor=as_member(acme, priya))
    mine = verified_client(Client(), priya)
    page = mine.get(f"/admin/privacy/retentionrun/{run_.pk}/change/")
    assert page.status_code == 200 and b"delivery_traces" in page.content
    mine.post("/admin/privacy/retentionrun/", {"action": "approve_runs", "_selected_action": [str(run_.pk)],
                                                "confirmed": "yes", "typed_count": "1"})
    with scope.org_scope(acme.id):
        assert RetentionRun.objects.get(pk=run_.pk).status == "proposed"  # the proposer is refused
    other = verified_client(Client(), pedro)
    other.post("/admin/privacy/retentionrun/", {"action": "approve_runs", "_selected_action": [str(run_.pk)],
                                                 "confirmed": "yes", "typed_count": "1"})
    with scope.org_scope(acme.id):
        assert RetentionRun.objects.get(pk=run_.pk).status == "approved"


def test_a_legal_hold_is_placed_and_released_in_the_admin(client, acme, priya):
    c = verified_client(client, priya)
    added = c.post("/admin/privacy/legalhold/add/", {"scope": "datasets", "targets_text": "delivery_traces",
                                                     "reason": "Incident 12", "reference": "INC-12",
                                                     "starts_at_0": "", "starts_at_1": "", "ends_at_0": "",
                                                     "ends_at_1": ""})
    assert added.status_code == 302, added.content.decode()[:2000]
    with scope.org_scope(acme.id):
        hold = LegalHold.objects.get()
        assert hold.targets == ["delivery_traces"] and hold.created_by == f"user:{priya.pk}"
    assert b"Incident 12" in c.get("/admin/privacy/legalhold/?active=yes").content
    c.post("/admin/privacy/legalhold/", {"action": "release_holds", "_selected_action": [str(hold.pk)],
                                         "confirmed": "yes"})
    with scope.org_scope(acme.id):
        assert LegalHold.objects.get().released_at is not None
        assert RetentionRun.objects.get().catch_up_for_id == hold.pk


def test_an_erasure_waiting_for_approval_is_counted(client, acme, lending, priya, pedro):
    from privacy.admin.overview import dsar_counts

    applicant(acme)
    request = submitted(acme, "erasure")
    with scope.org_scope(acme.id):
        from privacy.dsar.services import dsar_verify

        dsar_verify(request=request, actor=as_member(acme, priya), method="document")
    run(acme, request)
    with scope.org_scope(acme.id):
        assert dsar_counts()["to_approve"] == 1
    approve_erasure(acme, request, pedro)
    assert run(acme, request) == "done"
