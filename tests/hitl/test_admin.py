"""The reviewers' inbox in the admin: My work, the case page and its actions, bulk approve behind a
typed count, the queue overview, outsider isolation and constant-query changelists."""

import datetime as dt
import re

import pytest
from django.test import override_settings
from django.utils import timezone

from decisions.choices import RecordKind
from decisions.models import DecisionRecord
from dos import scope
from dos.models import LedgerEntry
from hitl.attachments import EICAR
from hitl.choices import CaseSource
from hitl.models import Attachment, Case, CaseNote, Notification
from hitl.services import case_open
from tenancy.approvals import approval_grant
from tenancy.models import ApprovalRequest
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import as_member, default_project, make_key, query_count, verified_client

pytestmark = pytest.mark.django_db
CASES = "/admin/hitl/case/"


def _open(acme, n=1, **kw):
    with scope.org_scope(acme.id):
        return [case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.ADMIN,
                          actor="system:test", **kw) for _ in range(n)]


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_my_work_lists_my_open_cases_oldest_sla_first(client, acme, desk, alice):
    later, sooner = _open(acme, priority="p3")[0], _open(acme, priority="p0")[0]
    with scope.org_scope(acme.id):
        Case.objects.filter(pk__in=[later.pk, sooner.pk]).update(owner=alice)
        not_mine = _open(acme)[0]
        Case.objects.filter(pk=not_mine.pk).update(owner=None)
    c = verified_client(client, alice)
    page = c.get(f"{CASES}my-work/", follow=True)
    shown = [row.number for row in page.context_data["cl"].result_list]
    assert shown == [sooner.number, later.number]
    assert "My work" in page.content.decode() and "kb-help" in page.content.decode()


def test_the_case_page_shows_the_decision_context_and_approving_finalizes_it(client, acme, lending, desk, alice):
    decide(api_client(make_key(acme, scopes=["decisions.run"])), credit_score=650)
    with scope.org_scope(acme.id):
        case = Case.objects.get()
        Case.objects.filter(pk=case.pk).update(owner=alice)
    c = verified_client(client, alice)
    page = c.get(f"{CASES}{case.pk}/change/")
    body = page.content.decode()
    assert page.status_code == 200 and 'id="rule-path"' in body and "CREDIT_BORDERLINE" in body
    assert f"/api/v1/decisions/{case.decision_id}/explain" in body and "income_monthly" in body
    assert 'data-key="a"' in body and 'data-key="d"' in body and 'data-key="e"' in body
    done = c.post(f"{CASES}{case.pk}/change/", {"op": "act", "action": "approve", "comment": "income verified"},
                  follow=True)
    assert "outcome approve" in _text(done) and "approve by alice@acme.example" in _text(done)
    assert re.search(r"assigned by system:routing — to \w+@acme\.example", _text(done))  # people, not ids
    with scope.org_scope(acme.id):
        case.refresh_from_db()
        assert (case.status, case.outcome) == ("closed", "approve")
        assert DecisionRecord.objects.filter(kind=RecordKind.OVERRIDE, outcome="approve").count() == 1


def test_refusals_on_the_case_page_are_messages_not_errors(client, acme, desk, alice):
    [case] = _open(acme, created_by=alice)
    c = verified_client(client, alice)
    refused = c.post(f"{CASES}{case.pk}/change/", {"op": "act", "action": "approve"}, follow=True)
    assert refused.status_code == 200 and "conflict of interest" in _text(refused)
    bogus = c.post(f"{CASES}{case.pk}/change/", {"op": "reveal", "note_id": "nope"}, follow=True)
    assert bogus.status_code == 200 and "No such note" in _text(bogus)
    with scope.org_scope(acme.id):
        assert Case.objects.get(pk=case.pk).status == "open"


def test_notes_and_uploads_from_the_case_page(client, acme, desk, alice, bob, olivia):
    [case] = _open(acme)
    c = verified_client(client, alice)
    c.post(f"{CASES}{case.pk}/change/", {"op": "note", "body_md": "Spoke to **Kim** on 010-1111-2222"})
    page = c.get(f"{CASES}{case.pk}/change/").content.decode()
    assert "<strong>Kim</strong>" in page and "[PHONE]" in page and "1111-2222" not in page
    assert "Reveal original" not in page  # reviewers may not reveal
    from django.core.files.uploadedfile import SimpleUploadedFile

    flagged = c.post(f"{CASES}{case.pk}/change/", {"op": "upload", "file": SimpleUploadedFile(
        "x.txt", EICAR, content_type="text/plain")}, follow=True)
    assert "flagged by the virus scan" in _text(flagged)
    with override_settings(HITL_ATTACHMENT_MAX_BYTES=10):
        too_big = c.post(f"{CASES}{case.pk}/change/", {"op": "upload", "file": SimpleUploadedFile(
            "big.txt", b"x" * 100, content_type="text/plain")}, follow=True)
    assert "the limit is 10 bytes" in _text(too_big)
    with scope.org_scope(acme.id):
        attachment = Attachment.objects.get()
        note = CaseNote.objects.get()
    assert c.get(f"{CASES}attachment/{attachment.pk}/").status_code == 409
    client.logout()
    senior = verified_client(client, bob)
    asked = senior.post(f"{CASES}{case.pk}/change/", {"op": "reveal", "note_id": str(note.pk)})
    assert "010-1111-2222" not in asked.content.decode() and "Reveal requested" in asked.content.decode()
    with scope.org_scope(acme.id):
        request = ApprovalRequest.objects.get(action="vault.unseal", requested_by=bob)
        approval_grant(request=request, actor=as_member(acme, olivia))  # a second holder of vault.unseal (four eyes)
    revealed = senior.post(f"{CASES}{case.pk}/change/", {"op": "reveal", "note_id": str(note.pk)})
    assert "010-1111-2222" in revealed.content.decode()
    with scope.org_scope(acme.id):
        assert LedgerEntry.objects.filter(action="hitl.note.revealed").count() == 1


def test_bulk_approve_asks_for_the_count_and_a_wrong_count_changes_nothing(client, acme, desk, bob):
    cases = _open(acme, n=3)
    c = verified_client(client, bob)
    ids = [str(x.pk) for x in cases]
    first = c.post(CASES, {"action": "bulk_approve", "_selected_action": ids})
    assert first.status_code == 200 and 'id="typed-count"' in first.content.decode()
    assert first.context_data["objects"] and len(first.context_data["objects"]) == 3
    wrong = c.post(CASES, {"action": "bulk_approve", "_selected_action": ids, "confirmed": "yes", "typed_count": "2"})
    assert 'id="typed-wrong"' in wrong.content.decode()
    with scope.org_scope(acme.id):
        assert not Case.objects.filter(status="closed").exists()
    c.post(CASES, {"action": "bulk_approve", "_selected_action": ids, "confirmed": "yes", "typed_count": "3"})
    with scope.org_scope(acme.id):
        assert sorted(Case.objects.values_list("outcome", flat=True)) == ["approve"] * 3


def test_the_queue_overview_shows_depth_risk_and_the_desks_figures(client, acme, desk, alice):
    now = timezone.now()
    cases = _open(acme, n=3, priority="p1")
    with scope.org_scope(acme.id):
        Case.objects.filter(pk=cases[0].pk).update(warn_at=now - dt.timedelta(hours=1))
        Case.objects.filter(pk=cases[1].pk).update(sla_due_at=now - dt.timedelta(minutes=5),
                                                   warn_at=now - dt.timedelta(hours=6))
    page = verified_client(client, alice).get(f"{CASES}queues/")
    review = next(q for q in page.context_data["report"]["queues"] if q["queue"] == "review")
    assert (review["depth"], review["at_risk"], review["breached"]) == (3, 1, 1)
    body = page.content.decode()
    assert 'id="throughput-chart"' in body and 'id="first-pick-p95"' in body
    assert page.context_data["series"][-1]["opened"] == 3


def test_an_outsider_sees_nothing_of_acmes_desk(client, acme, desk, alice, mallory):
    [case] = _open(acme)
    with scope.org_scope(acme.id):
        Notification.objects.create(org_id=acme.id, user=alice, case=case, text="for alice")
    c = verified_client(client, mallory)
    for model in ("case", "queue", "slapolicy", "reviewerprofile", "appeal", "notification"):
        response = c.get(f"/admin/hitl/{model}/", follow=True)
        assert response.status_code == 200 and response.context_data["cl"].result_count == 0, model
    assert c.get(f"{CASES}{case.pk}/change/").status_code in (302, 404)
    assert c.post(f"{CASES}{case.pk}/change/", {"op": "act", "action": "approve"}).status_code in (302, 404)
    with scope.org_scope(acme.id):
        from hitl.attachments import attachment_add

        attachment = attachment_add(case=case, name="a.txt", content=b"payslip", actor="system:test")
    assert c.get(f"{CASES}attachment/{attachment.pk}/").status_code in (302, 404)
    overview = c.get(f"{CASES}queues/")
    people = c.get("/admin/hitl/reviewerprofile/add/").content.decode()  # only Outsider's own members
    assert "mallory@outsider.example" in people and "acme.example" not in people
    assert all(q["depth"] == 0 for q in overview.context_data["report"]["queues"])
    with scope.org_scope(acme.id):
        assert Case.objects.get(pk=case.pk).status == "open"


def test_changelists_run_a_constant_number_of_queries(client, acme, desk, olivia, bob):
    c = verified_client(client, olivia)
    pages = [CASES, "/admin/hitl/queue/", "/admin/hitl/reviewerprofile/", "/admin/hitl/appeal/?status=x",
             "/admin/hitl/notification/"]
    _open(acme, n=2)
    before = {url: query_count(c, url) for url in pages}
    _open(acme, n=8)
    after = {url: query_count(c, url) for url in pages}
    assert after == before


def test_opening_a_case_in_the_admin_routes_it_and_keeps_the_opener_off_it(client, acme, desk, alice):
    c = verified_client(client, alice)
    form = c.get(f"{CASES}add/")
    assert form.status_code == 200 and 'id="case-open-form"' in form.content.decode()
    done = c.post(f"{CASES}add/", {"priority": "p1", "product": "mortgage", "reason_codes": "docs_missing",
                                   "summary": "Applicant 010-2222-3333 sent a blurred ID"}, follow=True)
    assert done.status_code == 200
    with scope.org_scope(acme.id):
        case = Case.objects.select_related("queue").get()
    assert (case.source, case.queue.name, case.created_by_id) == ("admin", "documents", alice.pk)
    assert case.owner_id != alice.pk and "2222-3333" not in str(case.summary)


def test_desk_settings_check_routing_rules_and_are_audited(client, acme, desk, olivia):
    c = verified_client(client, olivia)
    form = {"name": "vip", "kind": "standard", "description": "", "rank": "5", "skills": "[]",
            "depth_threshold": "20", "active": "on"}
    broken = c.post("/admin/hitl/queue/add/", {**form, "routing_rule": "risk_score >"})
    assert broken.status_code == 200 and "does not compile" in broken.content.decode()
    c.post("/admin/hitl/queue/add/", {**form, "routing_rule": "risk_score > 0.9"})
    with scope.org_scope(acme.id):
        from hitl.models import Queue

        queue = Queue.objects.get(name="vip")
        entry = LedgerEntry.objects.get(chain="audit", action="hitl.queue.saved")
    assert (queue.org_id, queue.routing_rule) == (acme.id, "risk_score > 0.9")
    assert entry.target == f"queue:{queue.pk}" and entry.data["routing_rule"] == "risk_score > 0.9"
