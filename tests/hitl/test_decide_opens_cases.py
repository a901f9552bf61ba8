"""The decide path opens a case for every review decision, in the decision's transaction."""

import pytest

from dos import scope
from hitl.choices import CaseSource, CaseStatus
from hitl.models import Case, CaseEvent, Task
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def lender(acme, lending, desk):
    return api_client(make_key(acme, scopes=["decisions.run", "decisions.read"], name="lender"))


def test_missing_documents_open_a_case_routed_to_the_documents_queue_and_its_reviewer(lender, acme, alice):
    response = decide(lender, documents_missing=["income_proof"])
    body = response.json()
    assert response.status_code == 200 and body["outcome"] == "review"
    with scope.org_scope(acme.id):
        case = Case.objects.select_related("queue").get()
        assert str(case.id) == body["case_id"]
        assert (case.source, case.status, case.queue.name, case.owner_id) == (
            CaseSource.DECIDE, CaseStatus.OPEN, "documents", alice.pk)
        assert str(case.decision_id) == body["decision_id"] and "DOCS_MISSING" in case.reason_codes
        assert case.summary["documents_missing"] == ["income_proof"]
        assert Task.objects.get(case=case).assignee_id == alice.pk
        assert [e.kind for e in CaseEvent.objects.filter(case=case)] == ["opened", "assigned"]
        assert all(e.ledger_seq for e in CaseEvent.objects.filter(case=case))


def test_approve_and_deny_decisions_open_no_case(lender, acme):
    assert decide(lender).json()["outcome"] == "approve"
    assert decide(lender, subject="lead-2", credit_score=500).json()["outcome"] == "deny"
    with scope.org_scope(acme.id):
        assert not Case.objects.exists()


def test_a_batch_opens_one_case_per_review_item(lender, acme):
    from tests.decisions.test_decide_api import BASE

    items = [{"subject_id": f"s{i}", "purpose": "loan_screening", "input": {**BASE, "credit_score": score}}
             for i, score in enumerate([720, 650, 500, 680])]
    results = lender.post("/api/v1/decide/batch", {"items": items}, format="json").json()["results"]
    assert [r["outcome"] for r in results] == ["approve", "review", "deny", "review"]
    with scope.org_scope(acme.id):
        cases = {str(c.decision_id): str(c.id) for c in Case.objects.all()}
    assert {r["decision_id"]: r["case_id"] for r in results if r["outcome"] == "review"} == cases


def test_a_batch_opens_its_cases_in_a_constant_number_of_queries(lender, acme, carol):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.decisions.test_decide_api import BASE

    def batch(prefix, reviews):
        items = [{"subject_id": f"{prefix}{i}", "purpose": "loan_screening", "input": {**BASE, "credit_score": 650}}
                 for i in range(reviews)]
        with CaptureQueriesContext(connection) as queries:
            response = lender.post("/api/v1/decide/batch", {"items": items}, format="json")
        assert response.status_code == 200 and all(r["case_id"] for r in response.json()["results"])
        return len(queries.captured_queries)

    batch("warm", 2)  # the first case of the day creates rollup rows and chain heads
    assert batch("a", 3) == batch("b", 30)
    with scope.org_scope(acme.id):
        owners = list(Case.objects.exclude(owner=None).values_list("owner__email", flat=True))
        numbers = list(Case.objects.values_list("number", flat=True))
    assert len(set(numbers)) == 35  # every case numbered
    # alice, carol and bob take up to 10 each; the other five wait for capacity
    assert sorted(owners.count(p) for p in set(owners)) == [10, 10, 10] and len(owners) == 30
