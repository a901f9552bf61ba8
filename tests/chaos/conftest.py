"""Chaos fixtures: a private Redis the test may stop, and a small load driver.

Chaos tests break real parts on purpose, so they never touch the shared servers: the Redis here is
the embedded binary on a free port, owned and stopped by the test, and database chaos is confined to
the backends of the test's own database.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own (no persistence), which can be paused with SIGSTOP."""

    def __init__(self, workdir) -> None:
        from devstack.redis import _server_binary

        self.port = free_port()
        self.proc = subprocess.Popen(
            [_server_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(workdir), "--logfile", str(workdir / "redis.log")], start_new_session=True)
        deadline = time.monotonic() + 10
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the private redis-server did not start; see {workdir / 'redis.log'}")
            time.sleep(0.05)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


class WebServer:
    """gunicorn serving the app on a free port against the test's database (committed data only:
    use it from ``transactional_db`` tests). ``env`` overrides the environment, e.g. REDIS_URL."""

    def __init__(self, logdir, env: dict[str, str] | None = None, *, workers: int = 2, threads: int = 4) -> None:
        from django.db import connection

        db = connection.settings_dict
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(logdir) / "gunicorn.log"
        database_url = (f"postgres://{quote(db['USER'], safe='')}:{quote(db['PASSWORD'] or '', safe='')}"
                        f"@{db['HOST']}:{db['PORT']}/{db['NAME']}")
        full_env = {**os.environ, "DJANGO_ENV": "test", "DATABASE_URL": database_url,
                    "DOS_ALLOW_UNSAFE_DB_ROLE": "true", **(env or {})}  # the suite's role is the owner
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "dos.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                 "--workers", str(workers), "--threads", str(threads), "--graceful-timeout", "5"],
                cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while not self._healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not come up:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Answer:
    worker: int
    status: int
    seconds: float
    headers: dict
    body: object
    started: float


@dataclass
class Load:
    """Runs ``call(worker, n)`` in ``workers`` threads until stopped; every answer is kept."""

    call: Callable[[int, int], Answer]
    workers: int = 8
    answers: list[Answer] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(w,), daemon=True) for w in range(self.workers)]

    def _run(self, worker: int) -> None:
        n = 0
        while not self._stop.is_set():
            try:
                answer = self.call(worker, n)
            except BaseException as exc:  # noqa: BLE001 - reported by the test, not swallowed
                with self._lock:
                    self.errors.append(exc)
                return
            with self._lock:
                self.answers.append(answer)
            n += 1

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.errors:
                raise self.errors[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what} ({self.count()} answers so far)")
            self._stop.wait(0.02)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def timed_request(session, method: str, url: str, *, worker: int, **kwargs) -> Answer:
    started = time.monotonic()
    response = session.request(method, url, timeout=30, **kwargs)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Answer(worker=worker, status=response.status_code, seconds=time.monotonic() - started,
                  headers=dict(response.headers), body=body, started=started)
