"""A simulation killed at any checkpoint resumes there and reports what an uninterrupted run reports."""

import pytest

from decisions import services, simulation_jobs
from decisions.models import Simulation
from decisions.packs import load_pack
from decisions.simulation import simulate
from dos import scope
from tests.factories import as_member, default_project


def rows(n=1000):
    generator = load_pack("lending_brokerage").dataset_module()
    data = [{"lead_id": r["lead_id"], **generator.as_input(r)} for r in generator.generate(n)]
    for index in (i for i in (5, 333, 777) if i < n):
        data[index]["credit_score"] = "n/a"  # invalid rows are part of the totals too
    return data


def same(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "generated_at"}


CHAMPION = load_pack("lending_brokerage").rules["lending_triage"]
CHALLENGER = CHAMPION.replace('"dsr > 40.0"', '"dsr > 30.0"')


def test_it_resumes_from_every_checkpoint_to_the_uninterrupted_report():
    data = rows()
    states = []
    clean = simulate(source=CHALLENGER, rows=data, champion_source=CHAMPION,
                     checkpoint=lambda done, state: states.append((done, state)))
    assert [done for done, _ in states] == [200, 400, 600, 800]
    assert clean["invalid"] == 3 and clean["flips"]["total"] > 0
    for done, state in states:
        begun = []
        resumed = simulate(source=CHALLENGER, rows=data, champion_source=CHAMPION, resume=state, started=begun.append)
        assert begun == [done]
        assert same(resumed) == same(clean)


def test_it_starts_over_when_the_checkpoint_is_from_another_policy_or_dataset():
    data = rows(600)
    states = []
    simulate(source=CHAMPION, rows=data, champion_source=CHAMPION, checkpoint=lambda d, s: states.append(s))
    clean = simulate(source=CHALLENGER, rows=data, champion_source=CHAMPION)
    begun = []
    edited = simulate(source=CHALLENGER, rows=data, champion_source=CHAMPION, resume=states[-1], started=begun.append)
    assert begun == [0] and same(edited) == same(clean)
    other_rows = simulate(source=CHAMPION, rows=data[:-1], champion_source=CHAMPION, resume=states[-1],
                          started=begun.append)
    assert begun[-1] == 0 and other_rows["rows"] == 599


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the job may catch it (it is not an Exception)."""


@pytest.fixture
def twin_jobs(acme, olivia, lending):
    with scope.org_scope(acme.id):
        draft = services.version_create(project=default_project(acme), source=lending.source.replace(
            '"dsr > 40.0"', '"dsr > 30.0"'), semver="0.2.0", actor=as_member(acme, olivia))
        return [simulation_jobs.simulation_create(project=default_project(acme), version=draft,
                                                  dataset="pack:lending_brokerage", actor="system:test")
                for _ in range(2)]


def kill_at(monkeypatch, checkpoint_no: int):
    real = simulation_jobs.simulate

    def dying(**kwargs):
        commit, seen = kwargs["checkpoint"], []

        def checkpoint(done, state):
            commit(done, state)
            seen.append(done)
            if len(seen) == checkpoint_no:
                raise WorkerKilled(f"killed after row {done}")

        return real(**{**kwargs, "checkpoint": checkpoint})

    monkeypatch.setattr(simulation_jobs, "simulate", dying)


@pytest.mark.django_db
def test_a_job_killed_mid_way_resumes_from_its_checkpoint(acme, twin_jobs, monkeypatch):
    clean, killed = twin_jobs
    org = str(acme.id)
    assert simulation_jobs.simulation_execute(org_id=org, simulation_id=str(clean.id)) == "done"
    with monkeypatch.context() as m:
        kill_at(m, 3)
        with pytest.raises(WorkerKilled):
            simulation_jobs.simulation_execute(org_id=org, simulation_id=str(killed.id))
    with scope.org_scope(acme.id):
        mid = Simulation.objects.get(id=killed.id)
    assert (mid.status, mid.rows_done, mid.checkpoint["next"], mid.attempts) == ("running", 600, 600, 1)

    assert simulation_jobs.simulation_execute(org_id=org, simulation_id=str(killed.id)) == "done"
    assert simulation_jobs.simulation_execute(org_id=org, simulation_id=str(killed.id)) == "done"  # redelivered again
    with scope.org_scope(acme.id):
        done, reference = Simulation.objects.get(id=killed.id), Simulation.objects.get(id=clean.id)
    assert (done.status, done.rows_done, done.resumed_from, done.attempts, done.checkpoint) == ("done", 1000, 600, 2,
                                                                                                 None)
    assert same(done.report) == same(reference.report)


@pytest.mark.django_db
def test_a_job_that_keeps_losing_its_worker_is_failed_not_redelivered_for_ever(acme, twin_jobs, monkeypatch):
    _clean, job = twin_jobs
    monkeypatch.setattr(simulation_jobs, "MAX_ATTEMPTS", 2)
    with monkeypatch.context() as m:
        kill_at(m, 1)
        for _ in range(2):
            with pytest.raises(WorkerKilled):
                simulation_jobs.simulation_execute(org_id=str(acme.id), simulation_id=str(job.id))
    assert simulation_jobs.simulation_execute(org_id=str(acme.id), simulation_id=str(job.id)) == "failed"
    with scope.org_scope(acme.id):
        failed = Simulation.objects.get(id=job.id)
    assert failed.status == "failed" and "2 attempts" in failed.error
