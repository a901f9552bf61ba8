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


# -- a second terminal next to `make run` finds the embedded services (var/devstack.json) ----------

SERVICE_VARS = ("DATABASE_URL", "MIGRATE_DATABASE_URL", "DATABASE_SUPERUSER_URL", "REDIS_URL", "DJANGO_ENV")


def _dev_env(**extra) -> dict:
    """The environment of a fresh shell: no service URLs, the dev profile."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    return {**env, **extra}


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


def _settings_in(env: dict) -> dict:
    code = ("import json, django; django.setup(); from django.conf import settings as s; "
            "d = s.DATABASES['default']; print(json.dumps({k: d[k] for k in ('USER', 'PASSWORD', 'HOST', 'PORT', "
            "'NAME')} | {'REDIS_URL': s.REDIS_URL}))")
    proc = subprocess.run([sys.executable, "-c", code], env={**env, "DJANGO_SETTINGS_MODULE": "dos.settings"},
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_it_finds_the_embedded_services_in_var_when_the_urls_are_unset(tmp_path):
    (tmp_path / "devstack.json").write_text(json.dumps({
        "database_url": "postgres://dos_app:s3cret@127.0.0.1:54001/dos",
        "migrate_database_url": "postgres://dos_owner:other@127.0.0.1:54001/dos",
        "redis_url": "redis://127.0.0.1:63001/0"}))
    found = _settings_in(_dev_env(DOS_VAR_DIR=str(tmp_path)))
    assert found == {"USER": "dos_app", "PASSWORD": "s3cret", "HOST": "127.0.0.1", "PORT": 54001, "NAME": "dos",
                     "REDIS_URL": "redis://127.0.0.1:63001/0"}


def test_it_prefers_the_environment_and_ignores_var_outside_dev(tmp_path):
    (tmp_path / "devstack.json").write_text(json.dumps({"database_url": "postgres://dos_app:s3cret@127.0.0.1:54001/dos",
                                                        "redis_url": "redis://127.0.0.1:63001/0"}))
    explicit = _settings_in(_dev_env(DOS_VAR_DIR=str(tmp_path), DATABASE_URL="postgres://me:pw@db.internal:5432/x",
                                     REDIS_URL="redis://cache.internal:6379/1"))
    assert (explicit["HOST"], explicit["PASSWORD"], explicit["REDIS_URL"]) == (
        "db.internal", "pw", "redis://cache.internal:6379/1")
    in_test = _settings_in(_dev_env(DOS_VAR_DIR=str(tmp_path), DJANGO_ENV="test"))
    assert in_test["PASSWORD"] != "s3cret"
    assert in_test["REDIS_URL"] != "redis://127.0.0.1:63001/0"


def test_a_half_written_state_file_falls_back_to_the_defaults(tmp_path):
    (tmp_path / "devstack.json").write_text('{"database_url": "postgres://dos_app:s3')
    found = _settings_in(_dev_env(DOS_VAR_DIR=str(tmp_path)))
    assert (found["USER"], found["PORT"], found["REDIS_URL"]) == ("dos_app", 54329, "redis://127.0.0.1:63799/0")


def test_status_in_a_second_terminal_reaches_the_running_embedded_servers():
    proc = subprocess.run([DOSCTL, "status", "--json", "--celery-timeout", "0.2"], env=_dev_env(), cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stdout)
    assert report["environment"] == "dev"
    assert report["database"]["ok"] is True, report["database"]
    assert report["database"]["role"] == "dos_app"
    assert report["redis"]["ok"] is True, report["redis"]


def test_it_says_in_one_line_that_the_database_is_not_running(tmp_path):
    port = _closed_port()
    (tmp_path / "devstack.json").write_text(json.dumps({"database_url": f"postgres://dos_app:pw@127.0.0.1:{port}/dos",
                                                        "redis_url": f"redis://127.0.0.1:{port}/0"}))
    for args in (["status"], ["tenant", "list", "--json"]):
        proc = subprocess.run([DOSCTL, *args], env=_dev_env(DOS_VAR_DIR=str(tmp_path)), cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1
        assert proc.stdout == ""
        assert proc.stderr.splitlines() == [
            f"The database at 127.0.0.1:{port} is not running: start it with `make run` (or set DATABASE_URL)."]


def test_files_only_subcommands_run_without_a_database(tmp_path):
    port = _closed_port()
    (tmp_path / "devstack.json").write_text(json.dumps({"database_url": f"postgres://dos_app:pw@127.0.0.1:{port}/dos"}))
    source = ROOT / "decisions/packs/lending_brokerage/0.1/rules/lending_triage.yaml"
    proc = subprocess.run([DOSCTL, "policy", "lint", str(source), "--json"], env=_dev_env(DOS_VAR_DIR=str(tmp_path)),
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "not running" not in proc.stderr
    assert json.loads(proc.stdout)["ok"] is True


# -- one way to name things: the ids and slugs/numbers that other commands print are accepted -----

def _cli(*args):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_it_accepts_what_tenant_create_prints_for_org_and_project(olivia, bob):
    from tenancy.selectors import org_by_slug_or_id
    from tests.factories import add_member

    created = _cli("tenant", "create", "--name", "Beta Credit", "--plan", "pro", "--owner-email", olivia.email)
    assert created["project"] == "default"
    add_member(org_by_slug_or_id(created["slug"]), bob, "senior_reviewer")
    by_id = _cli("policy", "init", "--pack", "lending_brokerage", "--org", created["org_id"],
                 "--project", created["project_id"], "--author", olivia.email, "--approver", bob.email)
    assert [row["status"] for row in by_id] == ["published"]
    by_slug = _cli("policy", "init", "--pack", "lending_brokerage", "--org", created["slug"],
                   "--project", created["project"], "--author", olivia.email, "--approver", bob.email)
    assert by_slug == by_id  # the same project: installed once
    for project in (created["project_id"], "default"):
        key = _cli("apikey", "create", "--org", created["org_id"], "--project", project, "--name", f"k-{project}")
        assert key["project"] == "default"


@pytest.mark.django_db
def test_it_refuses_a_project_of_another_org_by_id(acme, outsider):
    from django.core.management import CommandError

    from dos import scope
    from tenancy.models import Project

    with scope.org_scope(outsider.id):
        theirs = Project.objects.get(org=outsider, slug="default")
    with pytest.raises(CommandError, match="No project"):
        _cli("apikey", "create", "--org", "acme", "--project", str(theirs.id), "--name", "x")


@pytest.mark.django_db
def test_it_accepts_a_policy_version_by_the_id_policy_init_prints(acme, olivia, bob):
    from django.core.management import CommandError

    (installed,) = _cli("policy", "init", "--pack", "lending_brokerage", "--org", "acme", "--author", olivia.email)
    assert installed["status"] == "pending_approval"
    assert _cli("policy", "approve", installed["id"], "--org", str(acme.id), "--as", bob.email)["status"] == "approved"
    with pytest.raises(CommandError, match="No policy version 'lending_triage'"):
        _cli("policy", "publish", "lending_triage", "--org", "acme", "--as", bob.email)


@pytest.mark.django_db
def test_it_accepts_a_case_by_number_hash_number_or_id(acme, desk, alice):
    from django.core.management import CommandError

    from dos import scope
    from hitl.choices import CaseSource
    from hitl.services import case_open
    from tests.factories import default_project

    with scope.org_scope(acme.id):
        cases = [case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.ADMIN,
                           actor="system:test") for _ in range(3)]
    for case, named in zip(cases, [str(cases[0].number), f"#{cases[1].number}", str(cases[2].id)], strict=True):
        done = _cli("hitl", "case", "act", "--org", "acme", named, "comment", "--as", alice.email, "--comment", "seen")
        assert done["case"] == case.number
    with pytest.raises(CommandError, match="No case 'nine'"):
        _cli("hitl", "case", "act", "--org", "acme", "nine", "comment", "--as", alice.email, "--comment", "x")
