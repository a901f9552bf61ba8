"""The demo seed behind `make run` can run again on the same data (a second `make run` reuses var/)."""

import io
import json

import pytest
from django.core.management import call_command

from dos import scope
from hitl.models import Case
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
