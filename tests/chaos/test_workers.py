"""Celery workers killed mid-job (SIGKILL): the job is delivered again and the data equals a clean run's.

Real worker processes (``celery worker``, prefork pool, one slot: the shape production runs) on the
suite's Redis database and the test database. Each job is caught half-way deterministically: the test
waits (via the database) until the job has made progress, then takes a row lock the job's next write
needs and waits until the worker's backend is blocked on it — from then on the job cannot finish, so
the kill lands mid-way every time. The kill drops the worker's connection and PostgreSQL rolls its open
transaction back.

* simulation: the whole worker (main process and pool) is killed, as when a container or host dies;
  its message stays unacknowledged in Redis and a new worker restores it after the visibility
  timeout (a small one here, ``CELERY_VISIBILITY_TIMEOUT``). The job resumes from its checkpoint.
* rollup: only the pool process running the task is killed, as the OOM killer does; the worker
  rejects the message back to the queue (reject_on_worker_lost) and its next pool process runs it
  again from the org's cursor.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from billing.models import MeterEvent, UsageDaily, UsageHourly, UsageMonthly
from billing.rollups import usage_rollup
from billing.services import MeterInput, meter_record_many
from decisions import services
from decisions.models import Simulation
from decisions.packs import load_pack
from decisions.simulation import CHECKPOINT_EVERY
from decisions.simulation_jobs import simulation_create, simulation_execute
from dos import scope
from dos.audit import PLATFORM_ORG_ID
from dos.ledger import chain_verify
from tests.factories import as_member, default_project

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SIM_ROWS = 25_000  # a few seconds of work on a worker: long enough to be caught half-way
VISIBILITY_TIMEOUT = 2


def deadline_poll(predicate, timeout: float, what: str, *, interval: float = 0.05, alive=None):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def test_database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


class WorkerProcess:
    """``celery -A celery_app worker`` as production starts it, one pool slot, its log in a file."""

    def __init__(self, tmp_path: Path, name: str) -> None:
        self.log_path = tmp_path / f"{name}.log"
        env = {**os.environ, "DATABASE_URL": test_database_url(), "DJANGO_ENV": "test", "PYTHONPATH": str(ROOT),
               # The suite's role owns the test database; production workers run as dos_app (the startup
               # guard is tested on real processes in tests/dos/test_db_role.py).
               "DOS_ALLOW_UNSAFE_DB_ROLE": "1",
               "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT), "CELERY_UNACKED_RESTORE_INTERVAL": "0.5",
               "USAGE_ROLLUP_SETTLE_SECONDS": "0"}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "celery"), "-A", "celery_app", "worker", "--pool", "prefork", "--concurrency", "1",
                 "-l", "info", "-n", f"chaos-{name}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip",
                 "--without-mingle", "--without-heartbeat"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline_poll(lambda: " ready." in self.log(), 60, f"worker {name} to be ready", alive=self.check_alive)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"the worker exited ({self.proc.returncode}):\n{self.log()[-3000:]}")

    def pool_process(self) -> psutil.Process:
        [child] = psutil.Process(self.proc.pid).children()
        return child

    def kill(self) -> None:
        """SIGKILL to the worker's whole process group: nothing gets to clean up."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # warm shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def workers(tmp_path, settings):
    """Start workers on demand; every one is stopped at the end. The broker's queue and unacked set
    start empty (tasks other tests enqueued without a worker must not run against this database)."""
    import redis

    from celery_app import app

    app.control.purge()
    redis.Redis.from_url(app.conf.broker_url).delete("unacked", "unacked_index")
    started: list[WorkerProcess] = []

    def start(name: str) -> WorkerProcess:
        started.append(WorkerProcess(tmp_path, name))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def dba(superuser_dsn):
    """Connections as the DBA to the test database: one to hold locks, one to watch."""
    dsn = superuser_dsn.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    with psycopg.connect(dsn) as locker, psycopg.connect(dsn, autocommit=True) as watcher:
        yield locker, watcher


def blocked_by(watcher, locker) -> list[int]:
    """Backends waiting for a lock the locker holds."""
    return [pid for (pid,) in watcher.execute("SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                                              [locker.info.backend_pid]).fetchall()]


def upload_csv(n: int) -> str:
    generator = load_pack("lending_brokerage").dataset_module()
    fields = ["lead_id", "age", "income_monthly", "dsr", "credit_score", "employment_months", "delinquencies_12m",
              "documents_missing", "consent_credit_check", "loan_amount", "product"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for raw in generator.generate(n):
        row = {"lead_id": raw["lead_id"], **generator.as_input(raw)}
        for key, value in row.items():
            if isinstance(value, list):
                row[key] = "".join(f"{v};" for v in value)
            elif isinstance(value, bool):
                row[key] = "true" if value else "false"
        writer.writerow(row)
    return out.getvalue()


def without_timestamp(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "generated_at"}


def test_a_simulation_whose_worker_is_killed_resumes_from_its_checkpoint_on_a_new_worker(
        workers, dba, acme, olivia, lending):
    locker, watcher = dba
    with scope.org_scope(acme.id):
        draft = services.version_create(project=default_project(acme), source=lending.source.replace(
            '"dsr > 40.0"', '"dsr > 30.0"'), semver="0.2.0", actor=as_member(acme, olivia))
    data = upload_csv(SIM_ROWS)
    first = workers("first")
    started = time.monotonic()
    with scope.org_scope(acme.id):
        sim = simulation_create(project=default_project(acme), version=draft, dataset="upload", input_csv=data,
                                actor="system:test")  # enqueued on COMMIT

    def progress():
        return watcher.execute("SELECT status, rows_done, rows_total FROM decisions_simulation WHERE id = %s",
                               [sim.id]).fetchone()

    deadline_poll(lambda: progress()[1] >= 2 * CHECKPOINT_EVERY, 30, "the job's second checkpoint",
                  alive=first.check_alive)
    # Hold the row: the job's next checkpoint (and its final write) wait for us, so it cannot finish.
    status, rows_done, rows_total = locker.execute(
        "SELECT status, rows_done, rows_total FROM decisions_simulation WHERE id = %s FOR UPDATE", [sim.id]).fetchone()
    assert status == "running" and 0 < rows_done < rows_total == SIM_ROWS, (status, rows_done, rows_total)
    deadline_poll(lambda: blocked_by(watcher, locker), 30, "the worker to block on its next checkpoint")
    first.kill()
    killed_at = time.monotonic()
    locker.rollback()
    assert progress()[:2] == ("running", rows_done)  # the write the worker was waiting to make died with it

    second = workers("second")
    deadline_poll(lambda: progress()[0] in ("done", "failed"), 60, "the job to finish on the new worker",
                  interval=0.1, alive=second.check_alive)
    finished = time.monotonic()

    # The clean run: the same job, uninterrupted, in this process.
    with scope.org_scope(acme.id):
        twin = Simulation.objects.create(org_id=acme.id, project=sim.project, policy_version=draft,
                                         champion_version=sim.champion_version, dataset="upload", input_csv=data,
                                         created_by="system:test")
    assert simulation_execute(org_id=str(acme.id), simulation_id=str(twin.id)) == "done"
    with scope.org_scope(acme.id):
        resumed, clean = Simulation.objects.get(id=sim.id), Simulation.objects.get(id=twin.id)
        audit = chain_verify(org_id=acme.id, chain="audit")
    assert resumed.status == "done", resumed.error
    assert (resumed.attempts, resumed.resumed_from, resumed.rows_done, resumed.checkpoint) == (
        2, rows_done, SIM_ROWS, None), "resumed from the checkpoint, not from the top"
    assert without_timestamp(resumed.report) == without_timestamp(clean.report)
    assert resumed.report["decided"] + resumed.report["invalid"] == SIM_ROWS and resumed.report["flips"]["total"] > 0
    assert audit.ok, audit.reason
    print(f"\nsimulation kill: {SIM_ROWS} rows, killed at row {rows_done}, resumed on a new worker and done "
          f"{finished - killed_at:.1f}s after the kill (visibility timeout {VISIBILITY_TIMEOUT}s); "
          f"whole scenario {finished - started:.1f}s")


def meter(org, prefix: str, n: int, hour: dt.datetime) -> None:
    with scope.org_scope(org.id):
        meter_record_many(org=org, items=[
            MeterInput(metric="decision_calls", value=i % 5 + 1, corr_id=f"{prefix}{i}",
                       ts=hour + dt.timedelta(minutes=(7 * i) % 60, hours=-(i % 3)))
            for i in range(n)])


def rollup_totals(org) -> dict:
    with scope.org_scope(org.id):
        events = list(MeterEvent.objects.filter(org=org).values_list("value", flat=True))
        hourly = UsageHourly.objects.filter(org=org)
        return {"events": len(events), "value": sum(events),
                "hourly_events": sum(h.events for h in hourly), "hourly": sum(h.value for h in hourly),
                "daily": sum(d.value for d in UsageDaily.objects.filter(org=org)),
                "monthly": sum(m.value for m in UsageMonthly.objects.filter(org=org))}


def test_a_rollup_whose_pool_process_is_killed_runs_again_and_counts_every_event_once(
        workers, dba, acme, outsider):
    from billing.tasks import usage_rollup_all

    locker, watcher = dba
    hour = (timezone.now() - dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    meter(acme, "before-", 90, hour)
    with scope.org_scope(acme.id):
        usage_rollup(org_id=acme.id, settle_seconds=0)
    meter(acme, "after-", 120, hour)  # lands in buckets that exist: the rollup updates them
    meter(outsider, "o-", 50, hour)
    newest = dict(watcher.execute("SELECT org_id, max(id) FROM billing_meterevent GROUP BY org_id").fetchall())
    worker = workers("rollup")

    # Hold one of Acme's hourly buckets: the rollup takes Acme's cursor, starts its hourly upsert and
    # waits for us — half-way through its transaction.
    locker.execute("SELECT 1 FROM billing_usagehourly WHERE org_id = %s AND hour = %s FOR UPDATE", [acme.id, hour])
    usage_rollup_all.delay()
    deadline_poll(lambda: blocked_by(watcher, locker), 30, "the rollup to reach the locked bucket",
                  alive=worker.check_alive)
    child = worker.pool_process()
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    killed_at = time.monotonic()
    locker.rollback()

    def cursor(org) -> int:
        row = watcher.execute("SELECT last_event_id FROM billing_rollupcursor WHERE org_id = %s", [org.id]).fetchone()
        return row[0] if row else 0

    deadline_poll(lambda: all(cursor(org) == newest[org.id] for org in (acme, outsider)), 30,
                  "the redelivered rollup to finish", interval=0.1, alive=worker.check_alive)
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log(), worker.log()[-2000:]
    for org in (acme, outsider):
        totals = rollup_totals(org)
        assert totals["hourly_events"] == totals["events"], (org.slug, totals)
        assert totals["hourly"] == totals["daily"] == totals["monthly"] == totals["value"], (org.slug, totals)
    assert rollup_totals(acme)["events"] == 210 and rollup_totals(outsider)["events"] == 50
    finished = time.monotonic()
    with scope.platform_scope(reason="test: verify the jobs' audit entries"):
        audit = chain_verify(org_id=PLATFORM_ORG_ID, chain="audit")
    assert audit.ok, audit.reason
    print(f"\nrollup kill: pool process killed half-way through Acme's transaction; the rejected message ran "
          f"again on the next pool process and finished {finished - killed_at:.1f}s after the kill")
