"""Legal holds: a hold on whole datasets defers an erasure of anyone with rows in them; a case hold names
real review cases of the organisation, so it can never break a retention run."""

from __future__ import annotations

import uuid

import pytest

from dos import scope
from dos.authz import system_actor
from dos.errors import FieldErrors
from hitl.choices import CaseSource
from hitl.services import case_open
from privacy.holds import hold_place, hold_release
from privacy.models import LegalHold, RunStatus
from privacy.retention.holds import holds_covering_subject
from privacy.retention.services import retention_plan
from privacy.vault import is_erased
from tests.factories import as_member, default_project
from tests.privacy.dsar_world import applicant, approve_erasure, officer, run, submitted, verified

pytestmark = pytest.mark.django_db


def test_an_erasure_is_deferred_by_a_hold_on_a_dataset_holding_the_subjects_rows(acme, lending):
    person = applicant(acme)
    a, b = officer(acme, "a@acme.example"), officer(acme, "b@acme.example")
    with scope.org_scope(acme.id):
        hold = hold_place(org_id=acme.id, actor=as_member(acme, a), scope="datasets",
                          targets=["decision_records", "case_note_originals"], reason="Litigation: keep all decisions")
        unrelated = hold_place(org_id=acme.id, actor=as_member(acme, a), scope="datasets",
                               targets=["delivery_traces"], reason="Outage inquiry")
        covering = holds_covering_subject(org_id=acme.id, subject_token=person.token)
        assert [h.id for h in covering] == [hold.id]  # the traces hold reaches no row of the subject
        assert holds_covering_subject(org_id=acme.id, subject_token="vt_nobody") == []
    req = submitted(acme, "erasure")
    run(acme, req)
    verified(acme, req, a)
    approve_erasure(acme, req, b)
    run(acme, req)
    with scope.org_scope(acme.id):
        req.refresh_from_db()
    assert not is_erased(org_id=acme.id, subject_token=person.token)
    assert req.result["deferred_by_holds"] == [{"id": str(hold.id), "reason": hold.reason}]
    assert unrelated.id not in {h.id for h in covering}


def test_a_case_hold_names_review_cases_of_the_organisation(acme, lending, outsider):
    person = applicant(acme)
    priya = officer(acme, "priya@acme.example")
    me = as_member(acme, priya)
    with scope.org_scope(acme.id):
        for bad in (["CASE-12"], [str(person.case.id), "12"], [str(uuid.uuid4())]):
            with pytest.raises(FieldErrors) as refused:
                hold_place(org_id=acme.id, actor=me, scope="cases", targets=bad, reason="Matter 1")
            assert "targets" in refused.value.errors
        assert LegalHold.objects.count() == 0
        hold = hold_place(org_id=acme.id, actor=me, scope="cases", targets=[str(person.case.id).upper()],
                          reason="Matter 1")
        assert hold.targets == [str(person.case.id)]
        assert [h.id for h in holds_covering_subject(org_id=acme.id, subject_token=person.token)] == [hold.id]
    with scope.org_scope(outsider.id):
        elsewhere = case_open(org_id=outsider.id, project=default_project(outsider), source=CaseSource.ADMIN,
                              actor=system_actor("test"))
    with scope.org_scope(acme.id), pytest.raises(FieldErrors):  # another org's case is no case here
        hold_place(org_id=acme.id, actor=me, scope="cases", targets=[str(elsewhere.id)], reason="Matter 2")


def test_a_malformed_case_hold_recorded_earlier_breaks_no_dry_run_and_can_be_released(acme, lending):
    applicant(acme)
    priya = officer(acme, "priya@acme.example")
    with scope.org_scope(acme.id):
        hold = LegalHold.objects.create(org_id=acme.id, scope="cases", targets=["CASE-12"], reason="Matter 1",
                                        created_by="user:legacy")
        proposed = retention_plan(org_id=acme.id, actor=system_actor("retention"))
        assert proposed.status == RunStatus.PROPOSED
        released = hold_release(hold=hold, actor=as_member(acme, priya))
        assert released.released_at is not None
