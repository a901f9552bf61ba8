"""Four eyes bound to the rule change: whoever changed a retention rule since the last executed run may
not approve a run acting on it — a run the daily job proposed included — and a change that shortens a
ttl or turns on deletion or crypto-shredding is recorded on the rule, on the run, and audited as such.
A run decided on the general Approvals page follows that decision; an approved run whose execution was
lost is sent again by the daily job."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dos import scope
from dos.authz import system_actor
from dos.models import LedgerEntry
from privacy.models import RetentionRule, RetentionRun, RunStatus
from privacy.retention.services import (
    retention_approve,
    retention_execute,
    retention_follow_up,
    retention_plan,
    rule_save,
)
from privacy.vault import is_erased
from tenancy.approvals import FourEyesViolation, approval_grant, approval_reject
from tenancy.principals import ApiKeyPrincipal
from tests.factories import as_member, make_key
from tests.privacy.dsar_world import applicant, officer

pytestmark = pytest.mark.django_db
JOB = system_actor("retention")
LATER = timezone.now() + dt.timedelta(days=3)


@pytest.fixture
def pat(acme):
    return officer(acme, "pat@acme.example")


@pytest.fixture
def quinn(acme):
    return officer(acme, "quinn@acme.example")


def shorten(org, actor, **terms):
    with scope.org_scope(org.id):
        return rule_save(org_id=org.id, actor=actor, **{
            "dataset": "decision_records", "ttl_days": 1, "action": "tokenize", "legal_basis": "Shorter",
            "chain_treatment": "crypto_shred", **terms})


def job_plan(org, now=LATER) -> RetentionRun:
    with scope.org_scope(org.id):
        return retention_plan(org_id=org.id, actor=JOB, now=now)


def test_the_rule_changer_cannot_approve_the_jobs_run_alone(acme, lending, pat, quinn):
    person = applicant(acme)
    shorten(acme, as_member(acme, pat))
    run = job_plan(acme)
    with scope.org_scope(acme.id):
        item = run.items.get(dataset="decision_records")
        assert [(c["by"], c["tightened"]) for c in item.rule_changes] == [(f"user:{pat.pk}", True)]
        tightened = LedgerEntry.objects.get(chain="audit", action="retention.rule_tightened")
        assert tightened.actor == f"user:{pat.pk}" and tightened.data["before"]["ttl_days"] > 1
        with pytest.raises(FourEyesViolation) as refused:
            retention_approve(run=run, actor=as_member(acme, pat))
        assert refused.value.code == "rule_changer" and "decision_records" in str(refused.value)
        assert RetentionRun.objects.get(pk=run.pk).status == RunStatus.PROPOSED
    retention_execute(org_id=acme.id, run_id=run.id, now=LATER)  # not approved: nothing happens
    assert not is_erased(org_id=acme.id, subject_token=person.token)
    with scope.org_scope(acme.id):
        retention_approve(run=run, actor=as_member(acme, quinn))
        approved = LedgerEntry.objects.get(chain="audit", action="retention.approved")
        assert {"dataset": "decision_records", "by": f"user:{pat.pk}", "tightened": True} in approved.data["rule_changes"]
    retention_execute(org_id=acme.id, run_id=run.id, now=LATER)
    assert is_erased(org_id=acme.id, subject_token=person.token)
    with scope.org_scope(acme.id):  # the change had its second person: pat may approve the next run
        assert RetentionRule.objects.get(dataset="decision_records").changes == []
        assert retention_approve(run=job_plan(acme), actor=as_member(acme, pat)).status == RunStatus.APPROVED


def test_any_change_since_the_last_executed_run_counts_including_after_the_plan_and_through_a_key(
        acme, lending, pat, quinn):
    with scope.org_scope(acme.id):
        rule_save(org_id=acme.id, actor=as_member(acme, quinn), dataset="delivery_traces", ttl_days=30,
                  action="delete", legal_basis="Longer traces")  # longer: recorded, not tightened
        assert not LedgerEntry.objects.filter(action="retention.rule_tightened").exists()
    run = job_plan(acme, now=timezone.now())
    with scope.org_scope(acme.id), pytest.raises(FourEyesViolation):
        retention_approve(run=run, actor=as_member(acme, quinn))
    created = make_key(acme, scopes=["privacy.manage"], name="pat's script")
    created.key.created_by = pat  # a key pat made (pat's key's principal is pat as a person)
    shorten(acme, ApiKeyPrincipal(key=created.key, org=acme))  # after the plan, through pat's key
    with scope.org_scope(acme.id), pytest.raises(FourEyesViolation):
        retention_approve(run=run, actor=as_member(acme, pat))


def test_a_run_approved_on_the_approvals_page_is_approved_not_stuck(acme, lending, pat, quinn):
    with scope.org_scope(acme.id):
        run = retention_plan(org_id=acme.id, actor=as_member(acme, pat))
        approval_grant(request=run.approval, actor=as_member(acme, quinn))
        again = retention_approve(run=run, actor=as_member(acme, quinn))  # not "already approved"
        assert again.status == RunStatus.APPROVED and again.approved_by_id == quinn.pk


def test_the_daily_follow_up_adopts_decisions_of_the_approvals_page_and_resends_lost_runs(
        acme, lending, pat, quinn, django_capture_on_commit_callbacks):
    with scope.org_scope(acme.id):
        adopted = retention_plan(org_id=acme.id, actor=as_member(acme, pat))
        approval_grant(request=adopted.approval, actor=as_member(acme, quinn))
        with django_capture_on_commit_callbacks() as sent:
            assert retention_follow_up(org_id=acme.id)["adopted"] == 1
        adopted.refresh_from_db()
        assert (adopted.status, adopted.approved_by_id, len(sent)) == (RunStatus.APPROVED, quinn.pk, 1)

        rejected = retention_plan(org_id=acme.id, actor=as_member(acme, pat))
        approval_reject(request=rejected.approval, actor=as_member(acme, quinn))
        assert retention_follow_up(org_id=acme.id)["rejected"] == 1
        rejected.refresh_from_db()
        assert rejected.status == RunStatus.REJECTED

        rule_save(org_id=acme.id, actor=as_member(acme, quinn), dataset="delivery_traces", ttl_days=3,
                  action="delete", legal_basis="Shorter traces")
        by_changer = retention_plan(org_id=acme.id, actor=as_member(acme, pat))
        approval_grant(request=by_changer.approval, actor=as_member(acme, quinn))  # the generic page
        with django_capture_on_commit_callbacks() as sent:
            counts = retention_follow_up(org_id=acme.id)
        by_changer.refresh_from_db()
        assert counts["rejected"] == 1 and by_changer.status == RunStatus.REJECTED and not sent
        assert "changed the rules of delivery_traces" in by_changer.note

        with django_capture_on_commit_callbacks() as sent:  # approved, but its execution never came
            counts = retention_follow_up(org_id=acme.id, now=timezone.now() + dt.timedelta(hours=1))
        assert counts["resent"] == 1 and len(sent) == 1
        assert LedgerEntry.objects.filter(action="retention.resent").count() == 1
