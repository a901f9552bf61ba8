"""The demo seed behind `make run` can run again on the same data (a second `make run` reuses var/)."""

import io
import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from decisions.models import DecisionRecord
from dos import scope
from hitl.models import Case
from privacy.consent import subject_token_of
from privacy.models import Consent
from tenancy.models import Org

pytestmark = pytest.mark.django_db


def test_the_demo_seed_runs_twice_and_leaves_acme_with_a_working_desk(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo_seed", stdout=io.StringIO())
    call_command("demo_seed", stdout=io.StringIO())
    banner = json.loads((tmp_path / "demo.json").read_text())["banner"]
    assert any(line.startswith("Policy       lending_triage 0.1.0 (published)") for line in banner)
    with scope.platform_scope(reason="test: find the demo org"):
        acme = Org.unscoped_objects.get(slug="acme")
    with scope.org_scope(acme.id):
        assert Case.objects.count() == 4  # opened once, not again on the second run
        assert Case.objects.exclude(owner=None).count() == 4
        # Decided on the demo applicants' recorded consents (one each, not again on the second run).
        refs = set(DecisionRecord.objects.values_list("consent_ref", flat=True))
        assert len(refs) == 4 and refs == {str(c.id) for c in Consent.objects.filter(source="demo_seed")
                                           if c.subject_token != subject_token_of(acme.id, "lead-0001")}
        assert Consent.objects.filter(source="demo_seed").count() == 5
    assert any(line.startswith("Consent      lead-0001 and demo-lead-0001…0004 consented to loan_screening; "
                               "Acme's consent mode is 'deny'") for line in banner)


# -- what tenants do to the demo data never keeps `make run` from starting ---------------------------

def _seed(tmp_path) -> list[str]:
    call_command("demo_seed", stdout=io.StringIO())
    return json.loads((tmp_path / "demo.json").read_text())["banner"]


def _acme():
    with scope.platform_scope(reason="test: find the demo org"):
        return Org.unscoped_objects.get(slug="acme")


def _owner(acme):
    from tenancy.principals import member_principal

    return member_principal(acme, "owner@acme.example")


def _api_key_works(key: str) -> bool:

    return APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200


def test_it_restores_the_demo_project_a_tenant_archived_and_makes_a_new_key(settings, tmp_path, capsys):
    from tenancy.models import Project
    from tenancy.services import project_archive

    settings.VAR_DIR = tmp_path
    _seed(tmp_path)
    acme = _acme()
    old_key = (tmp_path / "demo-api-key").read_text().strip()
    with scope.org_scope(acme.id):
        project_archive(project=Project.objects.get(org=acme, slug="default"), actor=_owner(acme))
    assert not _api_key_works(old_key)

    banner = _seed(tmp_path)
    with scope.org_scope(acme.id):
        assert Project.objects.get(org=acme, slug="default").archived_at is None
    new_key = (tmp_path / "demo-api-key").read_text().strip()
    assert new_key != old_key and _api_key_works(new_key)
    assert f"API key      {new_key}  (Acme Lending, project default)" in banner
    assert "! demo seed: the default project of acme was archived: restored it (its keys stay revoked)" in banner
    assert "skipped" not in capsys.readouterr().err


def test_it_replaces_a_revoked_or_unreadable_demo_key(settings, tmp_path):
    from tenancy.models import ApiKey
    from tenancy.services import apikey_revoke

    settings.VAR_DIR = tmp_path
    _seed(tmp_path)
    acme = _acme()
    first = (tmp_path / "demo-api-key").read_text().strip()
    with scope.org_scope(acme.id):
        apikey_revoke(key=ApiKey.objects.get(prefix=first.split("_")[1]), actor=_owner(acme), reason="rotated")
    _seed(tmp_path)
    second = (tmp_path / "demo-api-key").read_text().strip()
    assert second != first and _api_key_works(second)

    (tmp_path / "demo-api-key").write_text("")  # a run killed while writing it
    _seed(tmp_path)
    third = (tmp_path / "demo-api-key").read_text().strip()
    assert third not in ("", second) and _api_key_works(third)


def test_the_demo_key_decides_the_demo_lead_and_records_the_consent_a_new_applicant_needs(settings, tmp_path):
    from decisions.demo import DECIDE_BODY

    settings.VAR_DIR = tmp_path
    _seed(tmp_path)
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {(tmp_path / 'demo-api-key').read_text().strip()}")
    body = json.loads(DECIDE_BODY)
    demo = api.post("/api/v1/decide", body, format="json").json()
    assert demo["outcome"] == "deny" and [r["code"] for r in demo["reason_codes"]] == ["DSR_HIGH"]  # on its merits
    assert demo["consent_ref"]
    newcomer = {**body, "subject_id": "lead-0099"}
    assert api.post("/api/v1/decide", newcomer, format="json").json()["reason_codes"][0]["code"] == "CONSENT_MISSING"
    granted = api.post("/api/v1/consent", {"subject_id": "lead-0099", "purposes": ["loan_screening"],
                                           "source": "web_form:v1"}, format="json")
    assert granted.status_code == 201, granted.content
    decided = api.post("/api/v1/decide", newcomer, format="json").json()
    assert decided["consent_ref"] == granted.json()["id"] and decided["reason_codes"][0]["code"] == "DSR_HIGH"


def test_an_older_demo_key_without_the_consent_scopes_is_replaced(settings, tmp_path):
    from tenancy.models import ApiKey

    settings.VAR_DIR = tmp_path
    _seed(tmp_path)
    old = (tmp_path / "demo-api-key").read_text().strip()
    with scope.org_scope(_acme().id):
        ApiKey.objects.filter(prefix=old.split("_")[1]).update(scopes=["decisions.run", "decisions.read"])
    banner = _seed(tmp_path)
    new = (tmp_path / "demo-api-key").read_text().strip()
    assert new != old and "! demo seed: the demo API key lacked scopes the demo offers now: made a new one" in banner
    with scope.org_scope(_acme().id):
        assert {"privacy.read", "privacy.manage"} <= set(ApiKey.objects.get(prefix=new.split("_")[1]).scopes)
    assert _api_key_works(new) and not _api_key_works(old)


def test_it_publishes_the_demo_policy_again_after_a_tenant_retired_it(settings, tmp_path):
    from decisions.choices import VersionStatus
    from decisions.models import PolicyVersion
    from decisions.services import version_retire
    from tenancy.principals import member_principal

    settings.VAR_DIR = tmp_path
    _seed(tmp_path)
    acme = _acme()
    with scope.org_scope(acme.id):
        version = PolicyVersion.objects.get(policy_set__name="lending_triage", status=VersionStatus.PUBLISHED)
        version_retire(version=version, actor=member_principal(acme, "senior.reviewer@acme.example"))
    banner = _seed(tmp_path)
    assert any(line.startswith("Policy       lending_triage 0.1.0 (published)") for line in banner)
    with scope.org_scope(acme.id):
        version.refresh_from_db()
        assert version.status == VersionStatus.PUBLISHED


def test_a_step_that_still_fails_is_skipped_with_one_line_and_the_rest_runs(settings, tmp_path, capsys,
                                                                             monkeypatch):
    from dos.demo import demo_steps

    def broken_step():
        raise RuntimeError("something the seed cannot repair\nsecond line")

    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(demo_steps, "_handlers", [*demo_steps.handlers, (15, broken_step)])
    banner = _seed(tmp_path)
    warning = ("! demo seed: tests.dos.test_demo_seed.broken_step skipped "
               "(RuntimeError: something the seed cannot repair)")
    assert warning in banner
    assert warning in capsys.readouterr().err.splitlines()
    assert any(line.startswith("Policy       lending_triage 0.1.0 (published)") for line in banner)
