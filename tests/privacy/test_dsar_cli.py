"""dosctl privacy: a request from intake to its zip, a retention run from dry-run to execution, holds."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dos import scope
from dos.models import OutboxEvent
from privacy.models import DsarRequest
from tests.privacy.dsar_world import applicant, approve_handover, officer

pytestmark = pytest.mark.django_db


def dosctl(*args) -> dict | list:
    out = io.StringIO()
    call_command("privacy", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_a_request_from_the_shell_to_its_zip(acme, lending, tmp_path):
    priya = officer(acme, "priya@acme.example")
    applicant(acme)
    made = dosctl("dsar", "submit", "--org", "acme", "access", "--subject", "lead-4242", "--message", "copy please")
    assert made["state"] == "intake" and made["reference"].startswith("DSAR-")
    assert [r["reference"] for r in dosctl("dsar", "ls", "--org", "acme")] == [made["reference"]]
    with pytest.raises(CommandError):  # verification needs a person
        call_command("privacy", "dsar", "verify", "--org", "acme", made["reference"], "--method", "document")
    dosctl("dsar", "verify", "--org", "acme", made["reference"], "--method", "document", "--as", priya.email)
    assert dosctl("dsar", "run", "--org", "acme", made["reference"])["state"] == "collect"  # hand-over: four eyes
    with scope.org_scope(acme.id):
        request = DsarRequest.objects.get(id=made["id"])
    approve_handover(acme, request, officer(acme, "pedro@acme.example"))
    assert dosctl("dsar", "run", "--org", "acme", made["reference"])["state"] == "done"
    shown = dosctl("dsar", "show", "--org", "acme", made["id"])
    assert [s["step"] for s in shown["steps"]][-1] == "fulfil" and shown["timeline"][0]["kind"] == "received"
    out = tmp_path / "subject_export.zip"
    dosctl("dsar", "export", "--org", "acme", made["reference"], "--out", str(out), "--as", priya.email)
    with zipfile.ZipFile(out) as bundle:
        assert {"subject_export.json", "summary.pdf"} <= set(bundle.namelist())
    assert dosctl("dsar", "ls", "--org", "acme") == []


def test_retention_and_holds_from_the_shell(acme, lending):
    priya, pedro = officer(acme, "priya@acme.example"), officer(acme, "pedro@acme.example")
    import datetime as dt

    from django.utils import timezone
    with scope.org_scope(acme.id):
        OutboxEvent.objects.bulk_create([OutboxEvent(org_id=acme.id, topic="t", key=str(i), status="delivered",
                                                     created_at=timezone.now() - dt.timedelta(days=9))
                                         for i in range(3)])
    hold = dosctl("hold", "place", "--org", "acme", "datasets", "delivery_traces", "--reason", "Incident 7",
                  "--as", priya.email)
    assert [h["id"] for h in dosctl("hold", "ls", "--org", "acme")] == [hold["id"]]
    planned = dosctl("retention", "plan", "--org", "acme", "--as", priya.email)
    traces = {i["dataset"]: i for i in planned["items"]}["delivery_traces"]
    assert (traces["matched"], traces["held"]) == (3, 3)
    with pytest.raises(CommandError, match="someone else"):
        call_command("privacy", "retention", "approve", "--org", "acme", planned["id"], "--as", priya.email)
    dosctl("retention", "approve", "--org", "acme", planned["id"], "--as", pedro.email)
    done = dosctl("retention", "execute", "--org", "acme", planned["id"])
    assert done["status"] == "done" and {i["dataset"]: i for i in done["items"]}["delivery_traces"]["done"] == 0
    dosctl("hold", "release", "--org", "acme", hold["id"], "--as", priya.email)
    catch_up = dosctl("retention", "show", "--org", "acme")
    assert catch_up["status"] == "proposed" and {i["dataset"]: i for i in catch_up["items"]}[
        "delivery_traces"]["matched"] == 3


def test_dosctl_lists_the_privacy_group_and_its_help_reads_well():
    import subprocess
    import sys

    groups = subprocess.run([sys.executable, "-m", "dos.cli", "--help"], capture_output=True, text=True, check=True)
    assert "privacy   data subject requests" in groups.stdout
    dsar = subprocess.run([sys.executable, "-m", "dos.cli", "privacy", "dsar", "--help"], capture_output=True,
                          text=True, check=True)
    assert "verify" in dsar.stdout and "second person" in dsar.stdout
