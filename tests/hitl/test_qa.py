"""QA sampling: closed cases get QA tasks (≥ 5 %), and a QA reviewer who did not decide the case
records pass or fail on the case page; a fail tells the decider."""

import pytest

from dos import scope
from hitl.actions import ActionInvalid, ActionRefused, case_act
from hitl.choices import CaseSource, TaskKind
from hitl.models import Case, CaseEvent, Notification, Task
from hitl.qa import qa_record
from hitl.services import case_open
from tenancy.roles import ROLE_PERMISSIONS
from tests.factories import UserFactory, acting, add_member, default_project, verified_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def quinn(acme):
    user = UserFactory(email="quinn@acme.example", full_name="Quinn QA")
    add_member(acme, user, "qa")
    return user


def _closed_case(acme, alice):
    with scope.org_scope(acme.id):
        case = case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.ADMIN, actor="system:test")
        case_act(case=case, action="deny", actor=acting(alice, ROLE_PERMISSIONS["reviewer"]))
        return Case.objects.get(pk=case.pk)


def test_a_qa_reviewer_fails_a_sampled_case_on_the_case_page_and_the_decider_is_told(client, acme, desk, alice,
                                                                                   quinn):
    case = _closed_case(acme, alice)
    with scope.org_scope(acme.id):
        task = Task.objects.get(case=case, kind=TaskKind.QA)  # the first closed case is always sampled
    c = verified_client(client, quinn)
    listed = c.get("/admin/hitl/case/?qa=open")
    assert [row.pk for row in listed.context_data["cl"].result_list] == [case.pk]
    assert "bulk_approve" not in listed.content.decode()  # QA reads; it does not decide
    page = c.get(f"/admin/hitl/case/{case.pk}/change/").content.decode()
    assert 'id="qa-form"' in page and 'id="do-override"' not in page
    c.post(f"/admin/hitl/case/{case.pk}/change/", {"op": "qa", "task_id": str(task.pk), "verdict": "fail",
                                                   "note": "Income proof was never checked."})
    with scope.org_scope(acme.id):
        task.refresh_from_db()
        assert (task.status, task.payload["verdict"], task.assignee_id) == ("done", "fail", quinn.pk)
        assert CaseEvent.objects.filter(case=case, kind="qa_fail").exists()
        assert Notification.objects.filter(user=alice, text__contains="QA found a problem").exists()
    assert [r.pk for r in c.get("/admin/hitl/case/?qa=done").context_data["cl"].result_list] == [case.pk]


def test_nobody_checks_their_own_decision_and_a_fail_needs_a_note(acme, desk, alice, quinn, bob):
    case = _closed_case(acme, alice)
    with scope.org_scope(acme.id):
        task = Task.objects.get(case=case, kind=TaskKind.QA)
        with pytest.raises(ActionRefused, match="QA independence"):
            qa_record(task=task, verdict="pass", note="", actor=acting(alice, {"hitl.qa"}))
        with pytest.raises(ActionRefused):
            qa_record(task=task, verdict="pass", note="", actor=acting(bob, ROLE_PERMISSIONS["senior_reviewer"]))
        with pytest.raises(ActionInvalid, match="decider is told"):
            qa_record(task=task, verdict="fail", note=" ", actor=acting(quinn, ROLE_PERMISSIONS["qa"]))
        qa_record(task=task, verdict="pass", note="", actor=acting(quinn, ROLE_PERMISSIONS["qa"]))
        assert Task.objects.get(pk=task.pk).status == "done"
