"""Simulation jobs: create (API/admin), execute (Celery), with progress visible while running.

The job commits progress in small transactions of its own (each in the org's scope), so the API and
the admin see rows_done move; the report is stored when the run ends. Each progress write carries the
run's checkpoint (the totals so far), so a job whose worker is killed resumes where it was when the
task is redelivered (acks_late, docs/runbooks/workers.md) instead of starting over.
"""

from __future__ import annotations

import csv
import io

from django.db import DatabaseError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from decisions.choices import VersionStatus
from decisions.models import PolicyVersion, Simulation
from decisions.packs import load_pack
from decisions.simulation import render_html, simulate
from dos import scope
from dos.audit import actor_label, audit_record
from dos.authz import action, authorize
from dos.errors import FieldErrors

MAX_UPLOAD_ROWS = 100_000
MAX_ATTEMPTS = 10


class SimulationInputError(FieldErrors):
    def __init__(self, message: str, field: str = "dataset"):
        super().__init__({field: [message]}, message)


def _rows(sim: Simulation) -> list[dict]:
    if sim.dataset.startswith("pack:"):
        generator = load_pack(sim.dataset.removeprefix("pack:")).dataset_module()
        return [{"lead_id": r["lead_id"], **generator.as_input(r)} for r in generator.generate(1000)]
    reader = csv.DictReader(io.StringIO(sim.input_csv))
    rows = []
    for raw in reader:
        rows.append({k: _cell(v) for k, v in raw.items() if k})
    return rows


def _cell(value: str):
    """CSV cells → JSON values: numbers, booleans, ';'-separated lists, else text."""
    text = (value or "").strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if ";" in text or text == "":
        return [t for t in text.split(";") if t] if ";" in text else []
    return text


SIMULATE = action("simulation.create", "decisions.run")


def simulation_create(*, project, version: PolicyVersion, dataset: str, input_csv: str = "", actor) -> Simulation:
    actor = authorize(actor, SIMULATE)
    if dataset == "upload":
        if not input_csv.strip():
            raise SimulationInputError("Upload a CSV with a header row.")
        if input_csv.count("\n") > MAX_UPLOAD_ROWS:
            raise SimulationInputError(f"At most {MAX_UPLOAD_ROWS} rows.")
    elif dataset.startswith("pack:"):
        try:
            load_pack(dataset.removeprefix("pack:"))
        except LookupError as exc:
            raise SimulationInputError(str(exc))
    else:
        raise SimulationInputError("dataset is 'pack:<domain>' or 'upload'.")
    champion = (PolicyVersion.objects.filter(policy_set=version.policy_set, status=VersionStatus.PUBLISHED)
                .exclude(pk=version.pk).first())
    label = actor_label(actor)
    sim = Simulation.objects.create(org_id=project.org_id, project=project, policy_version=version,
                                    champion_version=champion, dataset=dataset, input_csv=input_csv,
                                    created_by=label)
    audit_record(org_id=project.org_id, action="simulation.requested", actor=actor, target=f"simulation:{sim.id}",
                 data={"policy_version": str(version.id), "dataset": dataset})
    org_id, sim_id = str(project.org_id), str(sim.id)

    def enqueue():
        from decisions.tasks import simulation_run

        result = simulation_run.delay(org_id=org_id, simulation_id=sim_id)
        with scope.org_scope(org_id):
            Simulation.objects.filter(id=sim_id).update(task_id=result.id)

    transaction.on_commit(enqueue)
    return sim


def simulation_execute(*, org_id: str, simulation_id: str) -> str:
    """Run a simulation job, or carry it on. Safe to call again at any moment (a redelivered task
    after its worker was killed, or a second delivery while the first still runs): a finished job is
    left alone, an unfinished one resumes from its last checkpoint, and the report is the one an
    uninterrupted run gives. A job that has lost its worker MAX_ATTEMPTS times is failed rather than
    redelivered for ever."""
    with scope.org_scope(org_id):
        sim = Simulation.objects.select_related("policy_version", "champion_version").get(id=simulation_id)
        if sim.status in (Simulation.Status.DONE, Simulation.Status.FAILED):
            return sim.status  # a redelivered task does nothing twice
        if sim.attempts >= MAX_ATTEMPTS:
            Simulation.objects.filter(id=sim.id).update(
                status=Simulation.Status.FAILED, finished_at=timezone.now(),
                error=f"Stopped after {sim.attempts} attempts: the worker running it was lost each time.")
            return Simulation.Status.FAILED
        rows = _rows(sim)
        Simulation.objects.filter(id=sim.id).update(
            status=Simulation.Status.RUNNING, started_at=Coalesce("started_at", Value(timezone.now())),
            rows_total=len(rows), attempts=F("attempts") + 1)

    def started(row: int) -> None:
        with scope.org_scope(org_id):
            fresh = {} if row else {"rows_done": 0, "checkpoint": None}
            Simulation.objects.filter(id=simulation_id).update(resumed_from=row, **fresh)

    def checkpoint(done: int, state: dict) -> None:
        # Progress and the totals behind it move together, and never backwards (a slower duplicate
        # delivery of the same job does not rewind a faster one).
        with scope.org_scope(org_id):
            Simulation.objects.filter(id=simulation_id, status=Simulation.Status.RUNNING,
                                      rows_done__lte=done).update(rows_done=done, checkpoint=state)

    try:
        report = simulate(source=sim.policy_version.source, rows=rows, resume=sim.checkpoint, started=started,
                          checkpoint=checkpoint,
                          champion_source=sim.champion_version.source if sim.champion_version else None)
    except DatabaseError:
        raise  # not the job's fault: the task retries, and the retry resumes from the checkpoint
    except Exception as exc:  # noqa: BLE001 - the job records the failure for the person who asked
        with scope.org_scope(org_id):
            Simulation.objects.filter(id=simulation_id).update(status=Simulation.Status.FAILED, error=str(exc)[:2000],
                                                               finished_at=timezone.now())
        return Simulation.Status.FAILED
    with scope.org_scope(org_id):
        Simulation.objects.filter(id=simulation_id, status=Simulation.Status.RUNNING).update(
            status=Simulation.Status.DONE, rows_done=len(rows), report=report, report_html=render_html(report),
            checkpoint=None, finished_at=timezone.now())
    return Simulation.Status.DONE
