"""Retention: the daily dry-run, approval by someone else holding retention.approve, execution in
batches; legal holds re-checked at execution; catch-up once a hold is released; chains never touched."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from decisions.models import DecisionRecord
from dos import scope
from dos.authz import PermissionRefused, system_actor
from dos.errors import FieldErrors
from dos.models import LedgerEntry, OutboxEvent
from privacy.holds import hold_place, hold_release
from privacy.models import RetentionRule, RetentionRun, RunStatus
from privacy.retention.services import (
    RetentionStateError,
    retention_approve,
    retention_execute,
    retention_plan,
    retention_reject,
    rule_save,
)
from privacy.tasks import retention_plan_daily, retention_run_execute
from privacy.vault import is_erased
from tenancy.approvals import FourEyesViolation
from tests.factories import as_member
from tests.privacy.dsar_world import applicant

pytestmark = pytest.mark.django_db
LATER = timezone.now() + dt.timedelta(days=8 * 365)  # everything recorded today is past every TTL then


def traces(org, n: int, *, age_days: int = 10, status: str = "delivered") -> list[int]:
    at = timezone.now() - dt.timedelta(days=age_days)
    with scope.org_scope(org.id):
        made = OutboxEvent.objects.bulk_create([OutboxEvent(org_id=org.id, topic="decision.finalized", key=f"d:{i}",
                                                            payload={"i": i}, created_at=at, status=status)
                                                for i in range(n)])
    return [e.id for e in made]


def plan(org, user, now=None) -> RetentionRun:
    with scope.org_scope(org.id):
        return retention_plan(org_id=org.id, actor=as_member(org, user), now=now)


def items(org, run) -> dict:
    with scope.org_scope(org.id):
        return {i.dataset: i for i in run.items.all()}


def test_the_dry_run_seeds_the_default_rules_and_changes_nothing(acme, lending, priya):
    traces(acme, 30)
    traces(acme, 5, age_days=2)  # younger than 7 days
    traces(acme, 4, status="pending")  # not delivered: not a trace yet
    run = plan(acme, priya)
    with scope.org_scope(acme.id):
        rules = {r.dataset: r for r in RetentionRule.objects.all()}
        assert (rules["usage_events"].ttl_days, rules["delivery_traces"].ttl_days) == (90, 7)
        assert rules["audit_ledger"].ttl_days >= 7 * 365 and rules["audit_ledger"].chain_treatment == "retain"
        assert rules["decision_records"].chain_treatment == "crypto_shred"
        assert OutboxEvent.objects.count() == 39
    got = items(acme, run)
    assert (got["delivery_traces"].matched, got["delivery_traces"].held) == (30, 0)
    assert len(got["delivery_traces"].sample) == 10
    assert run.status == RunStatus.PROPOSED and run.approval is not None


def test_only_someone_else_holding_retention_approve_may_approve(acme, lending, priya, pedro, alice):
    traces(acme, 3)
    run = plan(acme, priya)
    with scope.org_scope(acme.id):
        with pytest.raises(FourEyesViolation):
            retention_approve(run=run, actor=as_member(acme, priya))
        with pytest.raises(PermissionRefused):
            retention_approve(run=run, actor=as_member(acme, alice))
        with pytest.raises(PermissionRefused):  # a job cannot stand in for the second person
            retention_approve(run=run, actor=system_actor("test"))
        assert OutboxEvent.objects.count() == 3
        approved = retention_approve(run=run, actor=as_member(acme, pedro))
        assert approved.status == RunStatus.APPROVED and approved.approval.decided_by_id == pedro.pk
        with pytest.raises(RetentionStateError):
            retention_reject(run=run, actor=as_member(acme, pedro))
        assert LedgerEntry.objects.filter(action="retention.approved").count() == 1


def test_an_approved_run_executes_in_batches_and_never_deletes_from_a_chain(acme, lending, priya, pedro):
    person = applicant(acme)
    ids = traces(acme, 250)
    run = plan(acme, priya, now=LATER)
    with scope.org_scope(acme.id):
        retention_approve(run=run, actor=as_member(acme, pedro))
        chained_before = (LedgerEntry.objects.count(), DecisionRecord.objects.count())
    retention_execute(org_id=acme.id, run_id=run.id, batch=100, now=LATER)
    got = items(acme, run)
    assert (got["delivery_traces"].done, got["delivery_traces"].cursor) == (250, str(max(ids)))
    assert got["decision_records"].done == 1 and is_erased(org_id=acme.id, subject_token=person.token)
    assert got["audit_ledger"].retained > 0 and got["audit_ledger"].done == 0
    assert got["usage_events"].retained == 1 and got["usage_events"].done == 0  # recorded today: under the purge floor
    assert got["case_note_originals"].done == 1  # the sealed original dropped, the masked note kept
    with scope.org_scope(acme.id):
        assert OutboxEvent.objects.filter(id__in=ids).count() == 0
        assert DecisionRecord.objects.count() == chained_before[1]
        assert LedgerEntry.objects.count() > chained_before[0]  # only appended to
        assert RetentionRun.objects.get(pk=run.pk).status == RunStatus.DONE
    report = io.StringIO()
    call_command("audit", "verify", "--org", "acme", "--json", stdout=report)
    verified = json.loads(report.getvalue())
    assert verified["ok"] is True and {c["chain"] for c in verified["chains"]} >= {"audit", "decisions"}


def test_a_hold_placed_after_the_approval_spares_its_rows_and_its_release_catches_up(
        acme, lending, priya, pedro):
    held_person = applicant(acme, "lead-held")
    free_person = applicant(acme, "lead-free")
    traces(acme, 20)
    run = plan(acme, priya, now=LATER)
    with scope.org_scope(acme.id):
        retention_approve(run=run, actor=as_member(acme, pedro))
        subjects = hold_place(org_id=acme.id, actor=as_member(acme, priya), scope="subjects",
                              targets=[held_person.token], reason="Regulator inquiry FSS-2026-118")
        dataset = hold_place(org_id=acme.id, actor=as_member(acme, priya), scope="datasets",
                             targets=["delivery_traces"], reason="Incident review")
        case = hold_place(org_id=acme.id, actor=as_member(acme, priya), scope="cases",
                          targets=[str(free_person.case.id)], reason="Complaint under review")
    retention_run_execute(org_id=str(acme.id), run_id=str(run.id))  # the Celery task, on the real clock
    retention_execute(org_id=acme.id, run_id=run.id, now=LATER)  # finished already: nothing happens twice
    with scope.org_scope(acme.id):
        run.refresh_from_db()
    assert run.status == RunStatus.DONE
    # Executed on today's clock its cutoffs are still LATER's: rows due then are due now.
    got = items(acme, run)
    assert (got["delivery_traces"].done, got["delivery_traces"].held_at_execution) == (0, 20)
    assert not is_erased(org_id=acme.id, subject_token=held_person.token)
    assert not is_erased(org_id=acme.id, subject_token=free_person.token)  # its case is held
    assert got["decision_records"].held_at_execution == 2
    assert got["case_note_originals"].done == 0 and got["case_note_originals"].held_at_execution == 2
    with scope.org_scope(acme.id):
        assert OutboxEvent.objects.count() == 20
        for hold in (subjects, dataset, case):
            hold_release(hold=hold, actor=as_member(acme, priya), now=LATER)
        catch_up = RetentionRun.objects.filter(status=RunStatus.PROPOSED).get()
        assert catch_up.catch_up_for_id == case.id
    assert items(acme, catch_up)["delivery_traces"].matched == 20
    with scope.org_scope(acme.id):
        retention_approve(run=catch_up, actor=as_member(acme, pedro))
    retention_execute(org_id=acme.id, run_id=catch_up.id, now=LATER)
    got = items(acme, catch_up)
    assert got["delivery_traces"].done == 20 and got["decision_records"].done == 2
    assert is_erased(org_id=acme.id, subject_token=held_person.token)


def test_a_rule_on_a_chain_can_never_say_delete(acme, priya):
    with scope.org_scope(acme.id):
        with pytest.raises(FieldErrors) as refused:
            rule_save(org_id=acme.id, actor=as_member(acme, priya), dataset="decision_records", ttl_days=30,
                      action="delete", legal_basis="x", chain_treatment="retain")
        assert "action" in refused.value.errors
        with pytest.raises(FieldErrors) as refused:
            rule_save(org_id=acme.id, actor=as_member(acme, priya), dataset="audit_ledger", ttl_days=30,
                      action="tokenize", legal_basis="x", chain_treatment="crypto_shred")
        assert "chain_treatment" in refused.value.errors
        rule = rule_save(org_id=acme.id, actor=as_member(acme, priya), dataset="delivery_traces", ttl_days=3,
                         action="delete", legal_basis="Shorter traces")
        assert rule.ttl_days == 3


def test_the_daily_job_proposes_and_supersedes_the_waiting_dry_run(acme, outsider, lending):
    assert retention_plan_daily() >= 2
    assert retention_plan_daily() >= 2
    with scope.org_scope(acme.id):
        statuses = sorted(RetentionRun.objects.values_list("status", flat=True))
        assert statuses == ["proposed", "superseded"]
        waiting = RetentionRun.objects.get(status="proposed")
        assert waiting.proposed_by is None and waiting.approval is None


def test_a_run_killed_between_batches_resumes_after_its_last_batch(acme, lending, priya, pedro):
    from privacy.retention import services as retention_services

    class Killed(BaseException):
        pass

    ids = traces(acme, 250)
    run = plan(acme, priya)
    with scope.org_scope(acme.id):
        retention_approve(run=run, actor=as_member(acme, pedro))

    def kill(dataset, done):
        if dataset == "delivery_traces" and done == 200:
            raise Killed

    retention_services.fault_points.append(kill)
    try:
        with pytest.raises(Killed):
            retention_execute(org_id=acme.id, run_id=run.id, batch=100)
    finally:
        retention_services.fault_points.remove(kill)
    stopped = items(acme, run)["delivery_traces"]
    assert (stopped.done, stopped.cursor, stopped.finished) == (200, str(sorted(ids)[199]), False)
    with scope.org_scope(acme.id):
        assert OutboxEvent.objects.filter(id__in=ids).count() == 50
    retention_run_execute(org_id=str(acme.id), run_id=str(run.id))
    finished = items(acme, run)["delivery_traces"]
    assert (finished.done, finished.finished) == (250, True)
    with scope.org_scope(acme.id):
        assert OutboxEvent.objects.filter(id__in=ids).count() == 0
        assert RetentionRun.objects.get(pk=run.pk).status == RunStatus.DONE
        assert LedgerEntry.objects.filter(action="retention.executed").count() == 1
