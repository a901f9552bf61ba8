"""Web, workers and beat refuse to start on a database role that bypasses row-level security or
owns the tables (and so could switch off the append-only triggers)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from dos.db_role import RoleInfo, UnsafeDatabaseRole, check_role, current_role

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env(dsn: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DOS_ALLOW_UNSAFE_DB_ROLE"}
    env.update(DATABASE_URL=dsn, DJANGO_ENV="test", PYTHONPATH=str(ROOT), **extra)
    return env


@pytest.mark.django_db
def test_it_runs_the_suite_on_a_role_that_cannot_bypass_rls():
    role = current_role()
    assert (role.superuser, role.bypassrls) == (False, False)
    assert role.safe


@pytest.mark.django_db
def test_it_knows_a_role_that_owns_the_tables():
    # The suite's throwaway database is created (and migrated) by the role the suite connects as.
    with connection.cursor() as cur:
        cur.execute("SELECT tableowner = current_user FROM pg_tables WHERE tablename = 'dos_ledgerentry'")
        [owns] = cur.fetchone()
    assert current_role().owner is owns


def test_gunicorn_refuses_to_start_on_the_owning_role():
    owner_dsn = os.environ.get("MIGRATE_DATABASE_URL", "")
    if "dos_owner" not in owner_dsn:
        pytest.fail("MIGRATE_DATABASE_URL names no dos_owner: run the suite through `make test`.")
    proc = subprocess.run(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "dos/gunicorn_conf.py"), "dos.wsgi"],
        env=_env(owner_dsn, DOS_BIND="127.0.0.1:0", WEB_CONCURRENCY="1"),
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "Refusing to start: database role 'dos_owner' owns the schema or its tables" in proc.stderr


@pytest.mark.django_db
def test_celery_beat_refuses_to_start_on_the_owning_role(tmp_path):
    # Beat's database scheduler reads its tables before beat_init: point it at the migrated database.
    owner_dsn = os.environ["MIGRATE_DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    proc = subprocess.run(
        [str(BIN / "celery"), "-A", "celery_app", "beat", "-l", "warning", "-s", str(tmp_path / "beat-schedule")],
        env=_env(owner_dsn), cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "Refusing to start: database role 'dos_owner' owns" in proc.stdout + proc.stderr


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


@pytest.mark.parametrize("role", [RoleInfo("postgres", True, False), RoleInfo("etl", False, True),
                                  RoleInfo("dos_owner", False, False, owner=True)])
def test_the_override_is_explicit_and_named(role, settings):
    settings.DOS_ALLOW_UNSAFE_DB_ROLE = False
    with pytest.raises(UnsafeDatabaseRole, match="DOS_ALLOW_UNSAFE_DB_ROLE=1"):
        check_role(role)
    settings.DOS_ALLOW_UNSAFE_DB_ROLE = True
    assert check_role(role) is role
