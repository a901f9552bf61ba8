"""gunicorn under /decide load gets SIGTERM (a deploy): every request it took is answered in full.

The server is started the way the product starts it (``gunicorn -c dos/gunicorn_conf.py dos.wsgi``)
against the test database. To have requests in flight at the moment of the signal — every worker
busy, deterministically — the test holds Acme's decision-chain head (each /decide appends to that
chain inside its transaction) and waits until one backend per gunicorn worker is blocked on it. Then
SIGTERM goes to the master, the lock is released, and the in-flight requests must complete with
200. Calls that were never taken by a worker (still in the listen backlog when the server went
away) fail to connect and must have left nothing behind; nothing is answered with a 500, and the
data afterwards is a clean run's: one decision per answered key, one meter event per decision, a
chain that verifies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import psycopg
import pytest
import requests
from django.db import connection

from billing.models import MeterEvent
from decisions.models import DecisionRecord
from dos import scope
from dos.ledger import chain_verify
from tests.chaos.conftest import Answer, Load, free_port, timed_request
from tests.decisions.test_decide_api import BASE
from tests.factories import make_key, plan_override

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKERS = 3
RETRYABLE = {429, 503}
NOT_ANSWERED = 0  # the connection was refused or reset before any answer


def wait_until(predicate, timeout: float, what: str, alive=None):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)
    return value


class Gunicorn:
    def __init__(self, tmp_path: Path) -> None:
        s = connection.settings_dict
        self.port = free_port()
        self.log_path = tmp_path / "gunicorn.log"
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(DATABASE_URL=f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}",
                   DJANGO_ENV="test", PYTHONPATH=str(ROOT), DOS_BIND=f"127.0.0.1:{self.port}",
                   WEB_CONCURRENCY=str(WORKERS),
                   # The suite's role owns the test database; production web runs as dos_app (the
                   # startup guard is tested on real processes in tests/dos/test_db_role.py).
                   DOS_ALLOW_UNSAFE_DB_ROLE="1")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(ROOT / "dos/gunicorn_conf.py"), "dos.wsgi"],
                                         cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_until(self._ready, 60, "gunicorn to answer /healthz", alive=self.check_alive)

    def _ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"gunicorn exited ({self.proc.returncode}):\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def gunicorn(tmp_path):
    server = Gunicorn(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_sigterm_drains_in_flight_requests_and_drops_nothing(gunicorn, superuser_dsn, acme, lending):
    plan_override(acme, "rate_limit.rps", 5000)  # this test is about shutdown, not about the org's rate
    plan_override(acme, "rate_limit.burst", 5000)
    secret = make_key(acme, scopes=["decisions.run", "decisions.read"]).secret
    sessions: dict[int, requests.Session] = {}
    server_gone = threading.Event()

    def call(worker: int, n: int) -> Answer:
        key = f"term-{worker}-{n:05d}"
        started = time.monotonic()
        try:
            return timed_request(sessions.setdefault(worker, requests.Session()), "POST",
                                 f"{gunicorn.url}/api/v1/decide", worker=worker,
                                 json={"subject_id": key, "purpose": "loan_screening", "input": BASE},
                                 headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": key,
                                          "X-Corr-ID": key})
        except requests.ConnectionError as exc:
            answer = Answer(worker=worker, status=NOT_ANSWERED, seconds=time.monotonic() - started, headers={},
                            body={"key": key, "error": type(exc).__name__}, started=started)
            server_gone.wait(30)  # one refusal per client until the server is gone, not a busy loop
            return answer

    dsn = superuser_dsn.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    with psycopg.connect(dsn) as locker, psycopg.connect(dsn, autocommit=True) as watcher:
        def blocked() -> int:
            # Waiters queue behind one another on a row, so only the first names the locker as its
            # blocker: count every backend of this database that waits for a lock.
            return watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock' AND cardinality(pg_blocking_pids(pid)) > 0"
                                   ).fetchone()[0]

        with Load(call, workers=2 * WORKERS) as load:
            load.wait_for(lambda: sum(a.status == 200 for a in load.answers) >= 30, 30, "warm-up answers")
            # Every worker in the middle of a /decide: hold the chain head their appends must move.
            locker.execute("SELECT 1 FROM dos_chainhead WHERE org_id = %s AND chain = 'decisions' FOR UPDATE",
                           [acme.id]).fetchone()
            wait_until(lambda: blocked() >= WORKERS, 30, "every gunicorn worker to be mid-request",
                       alive=gunicorn.check_alive)
            sigterm_at = time.monotonic()
            gunicorn.proc.send_signal(signal.SIGTERM)
            # The master closes its listening socket, then signals the workers (gunicorn Arbiter.stop).
            master = psutil.Process(gunicorn.proc.pid)
            wait_until(lambda: not any(c.status == psutil.CONN_LISTEN for c in master.net_connections("tcp")), 10,
                       "the master to stop listening")
            released_at = time.monotonic()
            locker.rollback()
            gunicorn.proc.wait(30)
            stopped_at = time.monotonic()
            server_gone.set()
            refused_at = load.count()
            load.wait_for(lambda: load.count() >= refused_at + 2 * WORKERS, 10, "calls after the server stopped")
    answers = load.answers

    log = gunicorn.log()
    assert gunicorn.proc.returncode == 0, log[-3000:]
    assert "WORKER TIMEOUT" not in log and "SIGKILL" not in log, log[-3000:]
    statuses = sorted({a.status for a in answers})
    assert set(statuses) <= {200, NOT_ANSWERED} | RETRYABLE, statuses
    for refused in (a for a in answers if a.status in RETRYABLE):
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert int(refused.headers["Retry-After"]) > 0
    drained = [a for a in answers if a.started < sigterm_at and a.started + a.seconds > released_at]
    assert sum(a.status == 200 for a in drained) >= WORKERS, "the requests in flight at SIGTERM were answered"
    assert all(a.status == NOT_ANSWERED for a in answers if a.started >= stopped_at)

    answered = {a.body["decision_id"]: a for a in answers if a.status == 200}
    unanswered = {a.body["key"] for a in answers if a.status == NOT_ANSWERED}
    with scope.org_scope(acme.id):
        records = dict(DecisionRecord.objects.values_list("corr_id", "id"))
        meters = MeterEvent.objects.filter(metric="decision_calls").count()
        verify = chain_verify(org_id=acme.id, chain="decisions")
    assert len(records) == len(answered), "every answered request committed exactly once, nothing else"
    assert {str(i) for i in records.values()} == set(answered)
    assert not unanswered & set(records), "a call that got no answer left no decision behind"
    assert meters == len(records)
    assert verify.ok, verify.reason
    not_taken = sum(a.status == NOT_ANSWERED and a.started < stopped_at for a in answers)
    print(f"\ngunicorn SIGTERM: {len(answers)} calls, {len(answered)} answered 200; of {len(drained)} in flight at "
          f"the signal {sum(a.status == 200 for a in drained)} answered 200, {not_taken} not taken while draining "
          f"(connection refused/reset, nothing written), "
          f"master exited {stopped_at - released_at:.2f}s after the in-flight requests were released")
