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
