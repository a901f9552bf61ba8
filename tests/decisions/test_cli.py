import io
import json

import pytest
from django.core.management import CommandError, call_command

from decisions import services
from decisions.packs import load_pack
from dos import scope
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import as_member, default_project, make_key

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_policy_init_installs_and_publishes_with_two_people(acme, olivia, bob):
    rows = run("policy", "init", "--pack", "lending_brokerage", "--org", "acme", "--author", olivia.email,
               "--approver", bob.email)
    assert rows == [{**rows[0], "policy": "lending_triage", "version": "0.1.0", "status": "published"}]


def test_the_same_person_cannot_author_and_approve(acme, olivia):
    with pytest.raises(CommandError, match="Four eyes"):
        call_command("policy", "init", "--pack", "lending_brokerage", "--org", "acme", "--author", olivia.email,
                     "--approver", olivia.email)


def test_lifecycle_steps_and_decision_replay_and_explain(acme, outsider, olivia, bob, screening_basis):
    with scope.org_scope(acme.id):
        version = services.version_create(project=default_project(acme),
                                          source=load_pack("lending_brokerage").rules["lending_triage"],
                                          semver="1.0.0", actor=as_member(acme, olivia))
    vid = str(version.id)
    assert run("policy", "submit", vid, "--org", "acme", "--as", olivia.email)["status"] == "pending_approval"
    with pytest.raises(CommandError, match="Four eyes"):
        call_command("policy", "approve", vid, "--org", "acme", "--as", olivia.email)
    assert run("policy", "approve", vid, "--org", "acme", "--as", bob.email)["status"] == "approved"
    assert run("policy", "publish", vid, "--org", "acme", "--as", bob.email)["status"] == "published"
    decision_id = decide(api_client(make_key(acme, scopes=["decisions.run"])), dsr=48.5).json()["decision_id"]
    assert run("decision", "replay", decision_id, "--org", "acme")["match"] is True
    explained = run("decision", "explain", decision_id, "--org", "acme")
    assert explained["outcome"] == "deny" and explained["reasons"][0]["code"] == "DSR_HIGH"
    with pytest.raises(CommandError, match="No decision"):  # Acme's decision is invisible from Outsider Co
        call_command("decision", "explain", decision_id, "--org", "outsider")
