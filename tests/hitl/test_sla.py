"""SLA with a controlled clock: a P1 case warns at 18 h, breaches at 24 h and is escalated once."""

import datetime as dt
import threading

import pytest
from django.db import connection

from dos import scope
from hitl.choices import CaseSource, CaseStatus
from hitl.models import Case, CaseEvent, Notification, SlaMark
from hitl.services import case_open
from hitl.sla import sla_sweep
from tests.factories import acting, default_project

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _p1_case(acme):
    with scope.org_scope(acme.id):
        return case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.API, priority="p1",
                         actor="system:test", now=T0)


def _sweep(acme, at):
    with scope.org_scope(acme.id):
        return sla_sweep(now=at)


def _kinds(acme, case):
    with scope.org_scope(acme.id):
        return [e.kind for e in CaseEvent.objects.filter(case=case)]


@pytest.mark.django_db
def test_a_p1_case_warns_then_breaches_at_24_hours_and_escalates_once(acme, alice, bob, carol, desk, mailoutbox,
                                                                      django_capture_on_commit_callbacks):
    case = _p1_case(acme)
    assert (case.warn_at, case.sla_due_at) == (T0 + dt.timedelta(hours=18), T0 + dt.timedelta(hours=24))
    owner = case.owner
    assert _sweep(acme, T0 + dt.timedelta(hours=17, minutes=59)) == {"warned": 0, "breached": 0}
    with django_capture_on_commit_callbacks(execute=True):  # mail goes out after COMMIT
        assert _sweep(acme, T0 + dt.timedelta(hours=18)) == {"warned": 1, "breached": 0}
    assert [m.to for m in mailoutbox] == [[owner.email]] and "SLA warning" in mailoutbox[0].subject
    assert _sweep(acme, T0 + dt.timedelta(hours=23)) == {"warned": 0, "breached": 0}
    assert _sweep(acme, T0 + dt.timedelta(hours=24)) == {"warned": 0, "breached": 1}
    for minutes in range(1, 6):  # the job keeps running every minute
        assert _sweep(acme, T0 + dt.timedelta(hours=24, minutes=minutes)) == {"warned": 0, "breached": 0}
    with scope.org_scope(acme.id):
        case = Case.objects.select_related("queue").get(pk=case.pk)
        assert (case.status, case.queue.name, case.priority, case.sla_breached) == (
            CaseStatus.ESCALATED, "senior", "p0", True)
        assert case.owner_id == bob.pk  # the senior queue needs the senior skill
        texts = list(Notification.objects.filter(user=owner, case=case).values_list("text", flat=True))
        assert sum("SLA warning" in t for t in texts) == 1 and sum("breached its SLA" in t for t in texts) == 1
    assert _kinds(acme, case).count("sla_warning") == 1 and _kinds(acme, case).count("sla_breach") == 1
    assert _kinds(acme, case).count("moved") == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_record_each_rung_once(acme, alice, bob, carol, desk):
    cases = [_p1_case(acme) for _ in range(6)]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(5)
            results.append(_sweep(acme, T0 + dt.timedelta(hours=25)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(r["warned"] for r in results) == 6 and sum(r["breached"] for r in results) == 6
    with scope.org_scope(acme.id):
        assert SlaMark.objects.count() == 12
        for case in cases:
            kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
            assert kinds.count("sla_breach") == 1 and kinds.count("moved") == 1


@pytest.mark.django_db
def test_closed_cases_are_not_chased(acme, alice, bob, carol, desk):
    from hitl.actions import case_act
    from tenancy.roles import ROLE_PERMISSIONS

    case = _p1_case(acme)
    with scope.org_scope(acme.id):
        case_act(case=case, action="approve", actor=acting(case.owner, ROLE_PERMISSIONS["senior_reviewer"]),
                 now=T0 + dt.timedelta(hours=1))
    assert _sweep(acme, T0 + dt.timedelta(hours=30)) == {"warned": 0, "breached": 0}


@pytest.mark.django_db
def test_the_beat_job_sweeps_each_org_in_its_own_scope(acme, outsider, alice, bob, carol, desk, monkeypatch):
    from hitl import tasks

    case = _p1_case(acme)
    monkeypatch.setattr(tasks.timezone, "now", lambda: T0 + dt.timedelta(hours=19))
    assert tasks.sla_sweep_all() == {"warned": 1, "breached": 0}
    assert _kinds(acme, case).count("sla_warning") == 1
