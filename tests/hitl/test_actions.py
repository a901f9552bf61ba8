"""Reviewer actions: state machine, permissions, four eyes, conflict of interest, finalization."""

import pytest

from decisions.choices import RecordKind
from decisions.models import DecisionRecord
from dos import scope
from dos.ledger import chain_verify
from dos.models import OutboxEvent
from hitl.actions import ActionInvalid, ActionRefused, IllegalTransition, case_act
from hitl.choices import CaseSource, CaseStatus
from hitl.models import Case, CaseEvent, Task
from hitl.services import case_open
from tenancy.approvals import FourEyesViolation
from tenancy.roles import ROLE_PERMISSIONS
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import acting, default_project, make_key

pytestmark = pytest.mark.django_db
REVIEWER, SENIOR = ROLE_PERMISSIONS["reviewer"], ROLE_PERMISSIONS["senior_reviewer"]


def _case(acme, **kw):
    return case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.ADMIN, actor="system:test", **kw)


def test_an_approved_decision_case_is_finalized_with_an_override_record_and_an_outbox_event(acme, lending, desk,
                                                                                             alice):
    lender = api_client(make_key(acme, scopes=["decisions.run"]))
    decision_id = decide(lender, documents_missing=["id_card"]).json()["decision_id"]
    with scope.org_scope(acme.id):
        case = Case.objects.get()
        case = case_act(case=case, action="approve", actor=acting(alice, REVIEWER), comment="documents arrived")
        assert (case.status, case.outcome, case.decided_by_id) == (CaseStatus.CLOSED, "approve", alice.pk)
        final = DecisionRecord.objects.get(kind=RecordKind.OVERRIDE)
        assert final.outcome == "approve" and final.refs["overrides"] == decision_id
        assert final.refs["case_id"] == str(case.id) and final.subject_token == case.decision.subject_token
        event = OutboxEvent.objects.get()
        assert (event.topic, event.payload["decision_id"], event.payload["final_decision_id"]) == (
            "decision.finalized", decision_id, str(final.id))
        assert DecisionRecord.objects.get(pk=decision_id).outcome == "review"  # the original is never changed
        assert chain_verify(org_id=acme.id, chain="decisions").ok and chain_verify(org_id=acme.id, chain="audit").ok
        assert not Task.objects.filter(case=case, kind="review").exclude(status="done").exists()


def test_illegal_transitions_name_the_allowed_actions(acme, desk, alice):
    with scope.org_scope(acme.id):
        case = _case(acme)
        case_act(case=case, action="deny", actor=acting(alice, REVIEWER))
        with pytest.raises(IllegalTransition) as refused:
            case_act(case=case, action="approve", actor=acting(alice, REVIEWER))
    assert refused.value.allowed == ["override", "comment"]
    assert "allowed: override, comment" in str(refused.value)


def test_nobody_acts_on_a_case_they_opened(acme, desk, alice):
    with scope.org_scope(acme.id):
        case = _case(acme, created_by=alice)
        with pytest.raises(ActionRefused) as refused:
            case_act(case=case, action="approve", actor=acting(alice, REVIEWER))
        assert refused.value.code == "conflict_of_interest" and "conflict of interest" in str(refused.value)
        assert Case.objects.get(pk=case.pk).status == CaseStatus.OPEN


def test_an_override_needs_a_senior_other_than_the_decider_and_a_reason(acme, desk, alice, bob, olivia):
    with scope.org_scope(acme.id):
        case = _case(acme)
        case_act(case=case, action="deny", actor=acting(bob, SENIOR))
        with pytest.raises(ActionRefused) as refused:
            case_act(case=case, action="override", actor=acting(alice, REVIEWER), outcome="approve", comment="x")
        assert refused.value.permission == "hitl.approve"
        with pytest.raises(FourEyesViolation, match="four eyes"):
            case_act(case=case, action="override", actor=acting(bob, SENIOR), outcome="approve", comment="x")
        with pytest.raises(ActionInvalid) as invalid:
            case_act(case=case, action="override", actor=acting(olivia, SENIOR), outcome="approve")
        assert invalid.value.errors == {"comment": ["An override needs a reason."]}
        case = case_act(case=case, action="override", actor=acting(olivia, SENIOR), outcome="approve",
                        comment="income verified by phone")
        assert (case.outcome, case.decided_by_id) == ("approve", olivia.pk)


def test_escalated_cases_need_a_senior_and_request_docs_waits_for_documents(acme, desk, alice, bob):
    with scope.org_scope(acme.id):
        case = _case(acme)
        case = case_act(case=case, action="request_docs", actor=acting(alice, REVIEWER), comment="payslips")
        assert case.status == CaseStatus.AWAITING_DOCS
        assert Task.objects.get(case=case, kind="request_docs").payload == {"requested": "payslips"}
        case = case_act(case=case, action="escalate", actor=acting(alice, REVIEWER), comment="unusual income")
        assert (case.status, case.queue.name, case.owner_id) == (CaseStatus.ESCALATED, "senior", bob.pk)
        with pytest.raises(ActionRefused):
            case_act(case=case, action="approve", actor=acting(alice, REVIEWER))
        case = case_act(case=case, action="approve", actor=acting(bob, SENIOR))
        kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds[-1] == "approve" and kinds.index("moved") < kinds.index("escalate")
    assert case.first_picked_at is not None


def test_at_least_5_percent_of_closed_cases_get_a_qa_task(acme, desk, alice):
    with scope.org_scope(acme.id):
        for _ in range(30):
            case_act(case=_case(acme), action="approve", actor=acting(alice, REVIEWER))
        assert Task.objects.filter(kind="qa").count() >= 0.05 * 30


def test_comments_reach_the_timeline_and_the_chain_with_personal_data_masked(acme, desk, alice):
    from dos.models import LedgerEntry

    with scope.org_scope(acme.id):
        case = _case(acme)
        case_act(case=case, action="comment", actor=acting(alice, REVIEWER),
                 comment="Applicant called from 010-5555-1234 about card 4111 1111 1111 1111")
        event = CaseEvent.objects.get(case=case, kind="comment")
        entry = LedgerEntry.objects.get(chain="audit", seq=event.ledger_seq)
    assert "5555-1234" not in str(event.data) and "4111" not in str(event.data).replace("****1111", "")
    assert "[PHONE]" in event.data["comment"] and entry.data["comment"] == event.data["comment"]
