"""Web and workers refuse to start on a database role that bypasses row-level security."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dos.guards import RoleInfo, UnsafeDatabaseRole, assert_safe_db_role, check_role, current_role

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env(dsn: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DOS_ALLOW_UNSAFE_DB_ROLE"}
    env.update(DATABASE_URL=dsn, DJANGO_ENV="test", PYTHONPATH=str(ROOT), **extra)
    return env


@pytest.mark.django_db
def test_it_runs_the_suite_on_a_role_that_cannot_bypass_rls():
    role = current_role()
    assert role == RoleInfo(name=role.name, superuser=False, bypassrls=False)
    assert assert_safe_db_role().safe


def test_gunicorn_refuses_to_start_on_a_superuser_role(superuser_dsn, tmp_path):
    proc = subprocess.run(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "dos/gunicorn_conf.py"), "dos.wsgi"],
        env=_env(superuser_dsn, DOS_BIND="127.0.0.1:0", WEB_CONCURRENCY="1"),
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "Refusing to start: database role 'postgres' is SUPERUSER" in proc.stderr


def test_celery_worker_refuses_to_start_on_a_superuser_role(superuser_dsn):
    proc = subprocess.run(
        [str(BIN / "celery"), "-A", "celery_app", "worker", "--pool", "solo", "-l", "warning"],
        env=_env(superuser_dsn), cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "Refusing to start: database role 'postgres'" in proc.stdout + proc.stderr


@pytest.mark.parametrize("role", [RoleInfo("postgres", True, False), RoleInfo("etl", False, True)])
def test_the_override_is_explicit_and_named(role, settings):
    settings.DOS_ALLOW_UNSAFE_DB_ROLE = False
    with pytest.raises(UnsafeDatabaseRole, match="DOS_ALLOW_UNSAFE_DB_ROLE=1"):
        check_role(role)
    settings.DOS_ALLOW_UNSAFE_DB_ROLE = True
    assert check_role(role) is role
