import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
DOSCTL = str(Path(sys.executable).parent / "dosctl")


def _run(*args, **env):
    return subprocess.run([DOSCTL, *args], env={**os.environ, "DJANGO_ENV": "test", **env},
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_help_lists_the_groups():
    proc = _run("--help")
    assert proc.returncode == 0
    assert "usage: dosctl <group>" in proc.stdout
    assert "status" in proc.stdout


def test_an_unknown_group_exits_non_zero():
    proc = _run("frobnicate")
    assert proc.returncode == 2
    assert "unknown group 'frobnicate'" in proc.stderr


def test_status_json_reports_a_safe_role_and_a_live_worker(celery_worker):
    test_db_url = _test_database_url()
    proc = _run("status", "--json", DATABASE_URL=test_db_url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["database"]["superuser"] is False
    assert report["database"]["bypassrls"] is False
    assert report["database"]["database"] == connection.settings_dict["NAME"]
    assert report["migrations"] == {"ok": True, "pending": [], "latency_ms": report["migrations"]["latency_ms"]}
    assert report["redis"]["ok"] is True
    assert report["celery"]["workers"], report["celery"]


@pytest.mark.django_db
def test_status_exits_non_zero_when_redis_is_down(capsys):
    proc = _run("status", "--json", "--celery-timeout", "0.2", DATABASE_URL=_test_database_url(),
                REDIS_URL="redis://127.0.0.1:1/0")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    assert report["redis"]["ok"] is False


def _test_database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
