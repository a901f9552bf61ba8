"""`make run` end to end: a fresh var/ directory, the whole process tree, /readyz, Ctrl-C."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=3) as resp:
        return resp.status, resp.read()


def test_make_run_serves_readyz_and_stops_every_process_on_ctrl_c(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "MIGRATE_DATABASE_URL", "DATABASE_SUPERUSER_URL", "REDIS_URL",
                        "SECRET_KEY", "DJANGO_ENV", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(DOS_VAR_DIR=str(tmp_path / "var"), DOS_PG_PORT=str(_free_port()),
               DOS_REDIS_PORT=str(_free_port()), DOS_IDP_PORT=str(_free_port()), WEB_CONCURRENCY="2")
    runner = subprocess.Popen([sys.executable, "-m", "devstack", "run", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = time.monotonic()
    try:
        body = None
        while time.monotonic() - started < 120:
            assert runner.poll() is None, runner.stdout.read()
            try:
                status, raw = _get(f"http://127.0.0.1:{port}/readyz")
                if status == 200:
                    body = json.loads(raw)
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert body is not None, "make run did not become ready within 120 s"
        assert {name: c["status"] for name, c in body["checks"].items()} == {
            "database": "ok", "redis": "ok", "migrations": "ok"}

        # Multi-process metrics under gunicorn: a request handled by any worker shows up.
        try:
            _get(f"http://127.0.0.1:{port}/api/v1/unknown")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
        # Static files (admin, local Swagger UI) are served under gunicorn.
        assert _get(f"http://127.0.0.1:{port}/static/admin/css/base.css")[0] == 200
        assert _get(f"http://127.0.0.1:{port}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")[0] == 200
        _status, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        assert b'route="dos.views.api_not_found"' in metrics

        tree = psutil.Process(runner.pid).children(recursive=True)
        postmaster = int((tmp_path / "var/pg/postmaster.pid").read_text().split()[0])
        names = {p.name() for p in tree}
        assert {"gunicorn", "postgres", "redis-server"} <= names | {psutil.Process(postmaster).name()}
        assert any("celery" in " ".join(p.cmdline()) and "beat" in p.cmdline() for p in tree)
        assert any("celery" in " ".join(p.cmdline()) and "worker" in p.cmdline() for p in tree)
    except BaseException:
        runner.kill()
        raise

    runner.send_signal(signal.SIGINT)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 0, out
    assert "stopped." in out
    survivors = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == [], [p.cmdline() for p in survivors]
    assert not psutil.pid_exists(postmaster)


# -- a second terminal next to `make run`, and `make run` again on what tenants and crashes left -----

SERVICE_VARS = ("DATABASE_URL", "MIGRATE_DATABASE_URL", "DATABASE_SUPERUSER_URL", "REDIS_URL", "SECRET_KEY",
                "DJANGO_ENV", "PROMETHEUS_MULTIPROC_DIR")


class _Run:
    """`python -m devstack run` with its output read by a thread, so a test waits for a line with a
    deadline instead of sleeping."""

    def __init__(self, env: dict, port: int):
        import queue
        import threading

        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self.proc = subprocess.Popen([sys.executable, "-m", "devstack", "run", "--port", str(port)], cwd=ROOT,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 240) -> None:
        import queue

        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no '{text}' within {timeout:.0f} s:\n" + "\n".join(self.lines[-40:]))
            if line is None:
                pytest.fail(f"make run exited ({self.proc.wait()}) before '{text}':\n" + "\n".join(self.lines[-40:]))
            self.lines.append(line)
            if text in line:
                return

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        self.wait_for("stopped.", timeout=60)
        return self.proc.wait(30)


def _dosctl(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "dosctl"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_make_run_comes_up_again_after_a_tenant_archived_the_demo_project_and_a_run_was_killed(tmp_path):
    port = _free_port()
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update(DOS_VAR_DIR=str(var), DOS_PG_PORT=str(_free_port()), DOS_REDIS_PORT=str(_free_port()),
               DOS_IDP_PORT=str(_free_port()), WEB_CONCURRENCY="2")
    run = _Run(env, port)
    try:
        run.wait_for("DecisionOS is up")
        # A second terminal: no service URLs in its environment, dosctl finds what make run started.
        status = json.loads(_dosctl(env, "status", "--json", "--celery-timeout", "5").stdout)
        assert status["database"]["ok"] and status["database"]["role"] == "dos_app", status["database"]
        assert status["redis"]["ok"], status["redis"]
        assert status["migrations"]["ok"], status["migrations"]
        tenants = json.loads(_dosctl(env, "tenant", "list", "--json").stdout)
        assert "acme" in {t["slug"] for t in tenants}

        # The tenant archives its demo project through the API (which revokes the demo key).
        key = (var / "demo-api-key").read_text().strip()
        auth = {"Authorization": f"Bearer {key}"}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/projects", headers=auth)
        with urllib.request.urlopen(req, timeout=5) as resp:
            listed = json.loads(resp.read())
        projects = listed["results"] if isinstance(listed, dict) else listed
        default = next(p for p in projects if p["slug"] == "default")
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/projects/{default['id']}", headers=auth,
                                     method="DELETE")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status in (200, 204)
    except BaseException:
        run.proc.kill()
        raise
    assert run.stop() == 0

    # What a killed run leaves behind: a postmaster.pid naming a live process that is not postgres,
    # empty secrets and half-written state files.
    bystander = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        (var / "pg/postmaster.pid").write_text(f"{bystander.pid}\n{var / 'pg'}\n")
        (var / "secret-key").write_text("")
        (var / "idp-client-secret").write_text("")
        (var / "demo.json").write_text('{"banner": ["API')
        (var / "devstack.json").write_text('{"database_url": "postgres://dos_app:')
        again = _Run(env, port)
        try:
            again.wait_for("DecisionOS is up")
            assert "! demo seed: the default project of acme was archived: restored it (its keys stay revoked)" \
                in again.lines
            new_key = (var / "demo-api-key").read_text().strip()
            assert new_key != key
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/me",
                                         headers={"Authorization": f"Bearer {new_key}"})
            with urllib.request.urlopen(req, timeout=5) as resp:
                assert resp.status == 200
            status = json.loads(_dosctl(env, "status", "--json", "--celery-timeout", "5").stdout)
            assert status["database"]["ok"] and status["redis"]["ok"], status
        except BaseException:
            again.proc.kill()
            raise
        assert again.stop() == 0
    finally:
        bystander.kill()
        bystander.wait()

    # Nothing runs now: dosctl says so in one line.
    down = _dosctl(env, "status")
    assert down.returncode == 1
    assert down.stderr.splitlines() == [
        f"The database at 127.0.0.1:{env['DOS_PG_PORT']} is not running: start it with `make run` (or set DATABASE_URL)."]
