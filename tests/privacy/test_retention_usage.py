"""Usage events (meter events) past their 90 days leave through one door: the retention run calls the
billing purge, which runs as the table owner, removes only the scope org's events older than 90 days
and keeps those a usage adjustment points at. Every other DELETE is refused (append-only)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from billing.models import MeterEvent, UsageAdjustment
from billing.services import meter_events_purge
from dos import scope
from dos.errors import FieldErrors
from privacy.holds import hold_place
from privacy.retention.holds import holds_covering_subject
from privacy.retention.services import retention_approve, retention_execute, rule_save
from tests.factories import as_member
from tests.privacy.dsar_world import applicant
from tests.privacy.test_retention import items, plan

pytestmark = pytest.mark.django_db


def events(org, *ages_days: int, corr_ids=()) -> list[MeterEvent]:
    now = timezone.now()
    corr_ids = list(corr_ids) or [f"c-{org.slug}-{n}" for n in range(len(ages_days))]
    with scope.org_scope(org.id):
        return MeterEvent.objects.bulk_create([
            MeterEvent(org_id=org.id, ts=now - dt.timedelta(days=age), metric="decision_calls", value=Decimal(1),
                       unit="count", corr_id=corr, idem_key=f"{org.slug}-{corr}-{age}", ingested_at=now)
            for corr, age in zip(corr_ids, ages_days, strict=True)])


def test_a_run_purges_usage_events_past_ninety_days_and_keeps_what_a_correction_points_at(
        acme, outsider, priya, pedro):
    _old, corrected, recent = events(acme, 120, 150, 30)
    theirs = events(outsider, 120)
    with scope.org_scope(acme.id):
        UsageAdjustment.objects.create(org_id=acme.id, event=corrected, metric="decision_calls", value=Decimal(1),
                                       period=dt.date(2026, 6, 1), apply_to_month=dt.date(2026, 7, 1))
    run = plan(acme, priya)
    assert items(acme, run)["usage_events"].matched == 2  # the 30-day event is not due
    with scope.org_scope(acme.id):
        retention_approve(run=run, actor=as_member(acme, pedro))
    retention_execute(org_id=acme.id, run_id=run.id)
    got = items(acme, run)["usage_events"]
    assert (got.done, got.retained) == (1, 1)
    with scope.org_scope(acme.id):
        assert set(MeterEvent.objects.values_list("id", flat=True)) == {corrected.id, recent.id}
    with scope.org_scope(outsider.id):
        assert MeterEvent.objects.filter(id=theirs[0].id).exists()  # another org's run never reaches it


def test_nothing_else_deletes_a_meter_event(acme, outsider):
    old, recent = events(acme, 120, 30)
    [theirs] = events(outsider, 120)
    with scope.org_scope(acme.id):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            MeterEvent.objects.filter(id=old.id).delete()
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            MeterEvent.objects.filter(id=old.id).update(value=Decimal(2))
        # The purge never removes an event younger than its floor, whatever it is asked for, nor
        # another org's (not even visible in this scope) ...
        assert meter_events_purge(org_id=acme.id, ids=[recent.id, theirs.id]) == 0
        # ... nor runs for an org other than the scope's.
        with pytest.raises(DatabaseError, match="scope"), transaction.atomic():
            meter_events_purge(org_id=outsider.id, ids=[theirs.id])
        # The trigger holds the floor too: a young event stays even with the purge's flag set (the app
        # role of production has no DELETE privilege on the table to begin with: dos.append_only).
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT set_config('dos.meter_purge', 'on', true)")
            cur.execute("DELETE FROM billing_meterevent WHERE id = %s", [recent.id])
        assert meter_events_purge(org_id=acme.id, ids=[old.id]) == 1
    with scope.org_scope(outsider.id):
        assert MeterEvent.objects.filter(id=theirs.id).exists()


def test_a_usage_rule_cannot_go_below_the_purge_floor(acme, priya):
    with scope.org_scope(acme.id), pytest.raises(FieldErrors) as refused:
        rule_save(org_id=acme.id, actor=as_member(acme, priya), dataset="usage_events", ttl_days=30,
                  action="delete", legal_basis="shorter")
    assert "at least 90 days" in refused.value.errors["ttl_days"][0]


def test_a_hold_on_a_subject_or_a_case_keeps_the_usage_events_of_their_decisions(
        acme, lending, priya, pedro):
    held, in_case, free = (applicant(acme, subject) for subject in ("lead-held", "lead-case", "lead-free"))
    theirs = events(acme, 120, 120, 120, corr_ids=[str(a.decision.id) for a in (held, in_case, free)])
    with scope.org_scope(acme.id):
        hold_place(org_id=acme.id, actor=as_member(acme, priya), scope="subjects", targets=[held.token],
                   reason="litigation")
        hold_place(org_id=acme.id, actor=as_member(acme, priya), scope="cases", targets=[str(in_case.case.id)],
                   reason="regulator inquiry")
    run = plan(acme, priya)
    assert (items(acme, run)["usage_events"].matched, items(acme, run)["usage_events"].held) == (3, 2)
    with scope.org_scope(acme.id):
        retention_approve(run=run, actor=as_member(acme, pedro))
    retention_execute(org_id=acme.id, run_id=run.id)
    assert items(acme, run)["usage_events"].done == 1
    with scope.org_scope(acme.id):
        assert set(MeterEvent.objects.filter(id__in=[e.id for e in theirs]).values_list("corr_id", flat=True)) == {
            str(held.decision.id), str(in_case.decision.id)}
        # A hold on the usage events as a dataset covers every subject with usage (their erasure waits).
        usage_hold = hold_place(org_id=acme.id, actor=as_member(acme, priya), scope="datasets",
                                targets=["usage_events"], reason="billing dispute")
        assert usage_hold in holds_covering_subject(org_id=acme.id, subject_token=free.token)
        assert usage_hold not in holds_covering_subject(org_id=acme.id, subject_token="vt_never_decided")
