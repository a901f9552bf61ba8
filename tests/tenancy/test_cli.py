"""dosctl tenant / apikey / audit."""

import io
import json

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from dos import scope
from dos.models import LedgerEntry
from tests.conftest import api_client


def run(*args) -> dict | list:
    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_tenant_create_prints_ids_and_a_working_key():
    created = run("tenant", "create", "--name", "Hanbit Capital", "--plan", "pilot")
    assert created["slug"] == "hanbit-capital" and created["plan"] == "pilot"
    key = type("K", (), {"secret": created["api_key"]})
    me = api_client(key).get("/api/v1/me").json()
    assert me["org"]["id"] == created["org_id"]
    assert {"project.manage", "keys.manage"} <= set(me["permissions"])


@pytest.mark.django_db
def test_tenant_create_refuses_an_unknown_plan_and_a_taken_slug(acme):
    with pytest.raises(CommandError):
        call_command("tenant", "create", "--name", "X", "--plan", "platinum")
    with pytest.raises(CommandError, match="taken"):
        call_command("tenant", "create", "--name", "Another Acme", "--slug", "acme")


@pytest.mark.django_db
def test_tenant_list_shows_every_org(acme, outsider):
    slugs = [row["slug"] for row in run("tenant", "list")]
    assert slugs == ["acme", "outsider"]


@pytest.mark.django_db
def test_apikey_create_list_and_revoke(acme):
    created = run("apikey", "create", "--org", "acme", "--name", "batch", "--scopes", "decisions.run")
    assert created["scopes"] == ["decisions.run"]
    listed = run("apikey", "list", "--org", "acme")
    assert created["prefix"] in {k["prefix"] for k in listed}
    assert run("apikey", "revoke", "--org", "acme", "--prefix", created["prefix"])["state"] == "revoked"
    response = api_client(type("K", (), {"secret": created["api_key"]})).get("/api/v1/me")
    assert response.json()["code"] == "api_key_revoked"


@pytest.mark.django_db
def test_apikey_on_an_unknown_org_fails_clearly():
    with pytest.raises(CommandError, match="No organisation 'nobody'"):
        call_command("apikey", "list", "--org", "nobody")


@pytest.mark.django_db
def test_audit_ls_lists_the_newest_entries(acme):
    rows = run("audit", "ls", "--org", "acme", "--limit", "2")
    assert [r["seq"] for r in rows] == sorted([r["seq"] for r in rows], reverse=True)
    assert len(rows) == 2


@pytest.mark.django_db(transaction=True)
def test_audit_verify_passes_then_names_a_tampered_entry(acme, outsider, superuser_dsn):
    report = run("audit", "verify")
    assert report["ok"] is True
    assert {c["org_id"] for c in report["chains"]} >= {str(acme.id), str(outsider.id)}
    with scope.org_scope(acme.id):
        victim = LedgerEntry.objects.filter(chain="audit").order_by("seq")[1]
    dsn = superuser_dsn.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    with psycopg.connect(dsn, autocommit=True) as dba:
        dba.execute("ALTER TABLE dos_ledgerentry DISABLE TRIGGER ledgerentry_append_only")
        dba.execute("UPDATE dos_ledgerentry SET actor = 'user:someone-else' WHERE id = %s", [victim.id])
        dba.execute("ALTER TABLE dos_ledgerentry ENABLE TRIGGER ledgerentry_append_only")
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "verify", "--org", "acme", "--chain", "audit", "--json", stdout=out)
    assert exit_info.value.code == 1
    broken = json.loads(out.getvalue())["chains"][0]
    assert broken["ok"] is False and broken["first_bad_seq"] == victim.seq
