"""Appeals: a decided case goes to the senior queue, to a senior reviewer who did not decide it;
the outcome re-issues the decision (with an explanation); at most two levels."""

import pytest

from decisions.models import DecisionRecord
from dos import scope
from dos.ledger import chain_verify
from dos.models import OutboxEvent
from hitl.actions import IllegalTransition, allowed_actions, case_act
from hitl.appeals import AppealInvalid, appeal_resolve, appeal_submit
from hitl.choices import AppealStatus, CaseStatus
from hitl.desk import reviewer_profile_save
from hitl.models import Appeal, Case
from tenancy.approvals import FourEyesViolation
from tenancy.roles import ROLE_PERMISSIONS
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import UserFactory, acting, add_member, make_key
from tests.hitl.test_api import _person_key

pytestmark = pytest.mark.django_db
REVIEWER, SENIOR = ROLE_PERMISSIONS["reviewer"], ROLE_PERMISSIONS["senior_reviewer"]


@pytest.fixture
def dave(acme, desk):
    user = UserFactory(email="dave@acme.example", full_name="Dave Senior")
    add_member(acme, user, "senior_reviewer")
    with scope.org_scope(acme.id):
        reviewer_profile_save(org_id=acme.id, user=user, skills=["senior"], weight=1, max_concurrent=10, actor="system:test")
    return user


@pytest.fixture
def lender(acme):
    return api_client(make_key(acme, scopes=["decisions.run", "decisions.read"]))


def _decided_case(acme, lender, reviewer, action="approve"):
    decide(lender, credit_score=650)
    with scope.org_scope(acme.id):
        case = Case.objects.get()
        Case.objects.filter(pk=case.pk).update(owner=reviewer)
        return case_act(case=case, action=action, actor=acting(reviewer, REVIEWER))


def test_an_appeal_is_reviewed_by_a_senior_who_did_not_decide_and_reissues_the_decision(acme, lending, desk, alice,
                                                                                      bob, lender):
    case = _decided_case(acme, lender, alice)
    first_due = case.sla_due_at
    submitted = lender.post(f"/api/v1/hitl/cases/{case.id}/appeal", {"reason": "My income was misread."},
                            format="json")
    body = submitted.json()
    assert submitted.status_code == 201 and (body["level"], body["status"], body["assignee"]) == (
        1, "in_review", "bob@acme.example")
    with scope.org_scope(acme.id):
        case.refresh_from_db()
        assert (case.queue.name, case.status, case.in_appeal, case.reopen_count) == ("senior", "escalated", True, 1)
        assert case.sla_due_at > first_due and not case.sla_breached  # the appeal's own SLA window
        assert allowed_actions(case) == ["comment"]  # only the appeal decides now
        with pytest.raises(IllegalTransition):
            case_act(case=case, action="deny", actor=acting(bob, SENIOR))

    bob_api = api_client(_person_key(acme, bob, ["hitl.appeal", "decisions.read"]))
    resolved = bob_api.post(f"/api/v1/hitl/appeals/{body['id']}/resolve",
                            {"resolution": "overturn", "note": "Income was under-counted; DSR is within limits."},
                            format="json").json()
    assert (resolved["status"], resolved["resolution"]) == ("resolved", "overturn")
    explanation = lender.get(resolved["explanation"]).json()
    assert explanation["outcome"] == "deny" and explanation["reasons"][0]["code"] == "APPEAL_OVERTURNED"
    with scope.org_scope(acme.id):
        case.refresh_from_db()
        assert (case.status, case.outcome, case.in_appeal, case.decided_by_id) == ("closed", "deny", False, bob.pk)
        record = DecisionRecord.objects.get(pk=resolved["final_decision"])
        assert record.refs["appeal_level"] == 1 and record.refs["overrides"] == str(case.decision_id)
        finalized = OutboxEvent.objects.filter(topic="decision.finalized").order_by("created_at").last()
        assert finalized.payload["appeal"]["id"] == body["id"] and finalized.payload["outcome"] == "deny"
        assert chain_verify(org_id=acme.id, chain="decisions").ok and chain_verify(org_id=acme.id, chain="audit").ok
    assert lender.get(f"/api/v1/hitl/appeals/{body['id']}").json()["status"] == "resolved"


def test_level_two_goes_to_yet_another_senior_and_there_is_no_level_three(acme, lending, desk, alice, bob, dave,
                                                                         lender):
    case = _decided_case(acme, lender, alice, action="deny")
    with scope.org_scope(acme.id):
        first = appeal_submit(case=case, reason="misread", actor="system:test")
        reviewer_one = first.assignee
        appeal_resolve(appeal=first, resolution="uphold", note="Checked again.", actor=acting(reviewer_one, SENIOR))
        second = appeal_submit(case=case, reason="still wrong", actor="system:test")
        assert second.level == 2 and second.assignee_id not in (alice.pk, reviewer_one.pk)
        assert second.assignee_id in (bob.pk, dave.pk)
        with pytest.raises(FourEyesViolation):
            appeal_resolve(appeal=second, resolution="overturn", note="x", actor=acting(reviewer_one, SENIOR))
        appeal_resolve(appeal=second, resolution="partial", outcome="approve", note="Approve a lower amount.",
                       actor=acting(second.assignee, SENIOR))
        with pytest.raises(AppealInvalid, match="at most 2"):
            appeal_submit(case=case, reason="again", actor="system:test")
        case.refresh_from_db()
        assert (case.outcome, case.reopen_count) == ("approve", 2)


def test_an_appeal_waits_when_only_the_deciders_are_seniors_and_is_picked_up_by_a_new_one(acme, lending, desk, alice,
                                                                                      bob, lender):
    case = _decided_case(acme, lender, alice)
    with scope.org_scope(acme.id):
        Case.objects.filter(pk=case.pk).update(decided_by=bob)  # bob decided it: he may not review the appeal
        case.refresh_from_db()
        appeal = appeal_submit(case=case, reason="misread", actor="system:test")
        assert (appeal.status, appeal.assignee_id) == (AppealStatus.SUBMITTED, None)
    eve = UserFactory(email="eve@acme.example")
    add_member(acme, eve, "senior_reviewer")
    with scope.org_scope(acme.id):
        reviewer_profile_save(org_id=acme.id, user=eve, skills=["senior"], weight=1, max_concurrent=10, actor="system:test")
        from hitl.services import assign_waiting

        assign_waiting(case.queue.__class__.objects.get(name="senior"))
        appeal.refresh_from_db()
        assert (appeal.status, appeal.assignee_id) == (AppealStatus.IN_REVIEW, eve.pk)


def test_only_decided_cases_can_be_appealed_and_reasons_are_required(acme, lending, desk, lender):
    decide(lender, credit_score=650)
    with scope.org_scope(acme.id):
        case_id = Case.objects.get().pk
    open_case = lender.post(f"/api/v1/hitl/cases/{case_id}/appeal", {"reason": "x"}, format="json")
    assert open_case.status_code == 409 and open_case.json()["code"] == "appeal_not_allowed"
    blank = lender.post(f"/api/v1/hitl/cases/{case_id}/appeal", {"reason": ""}, format="json")
    assert blank.status_code == 400 and "reason" in blank.json()["errors"]
    with scope.org_scope(acme.id):
        assert not Appeal.objects.exists() and Case.objects.get().status == CaseStatus.OPEN


def test_a_reviewer_without_the_appeal_permission_cannot_resolve(acme, lending, desk, alice, carol, lender,
                                                                 outsider, mallory):
    case = _decided_case(acme, lender, alice)
    appeal_id = lender.post(f"/api/v1/hitl/cases/{case.id}/appeal", {"reason": "x"}, format="json").json()["id"]
    carol_api = api_client(_person_key(acme, carol, ["hitl.review", "decisions.read"]))
    refused = carol_api.post(f"/api/v1/hitl/appeals/{appeal_id}/resolve", {"resolution": "uphold", "note": "n"},
                             format="json")
    assert refused.status_code == 403 and refused.json()["permission"] == "hitl.appeal"
    outsider_api = api_client(_person_key(outsider, mallory, ["hitl.appeal", "decisions.read"]))
    assert outsider_api.get("/api/v1/hitl/appeals").json()["results"] == []
    assert outsider_api.get(f"/api/v1/hitl/appeals/{appeal_id}").status_code == 404
    assert outsider_api.post(f"/api/v1/hitl/appeals/{appeal_id}/resolve", {"resolution": "uphold", "note": "n"},
                             format="json").status_code == 404
