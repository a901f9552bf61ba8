import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import UsageHourly
from billing.services import meter_record
from billing.tasks import usage_reconcile_daily, usage_rollup_all
from dos import scope

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_usage_show_rollup_and_reconcile(acme):
    now = timezone.now()
    with scope.org_scope(acme.id):
        for i in range(3):
            meter_record(org=acme, metric="decision_calls", value=2, corr_id=f"cli-{i}", now=now, ts=now)
    shown = run("usage", "show", "--org", "acme", "--metric", "decision_calls")
    assert shown["total"] == "6"
    rolled = run("usage", "rollup", "--org", "acme", "--since", "2020-01-01")
    assert rolled["hours"] >= 1
    report = run("usage", "reconcile", "--org", "acme", "--date", now.date().isoformat())
    assert report["day"] == now.date().isoformat()


def test_the_beat_rollup_covers_every_org_with_events(acme, outsider, settings):
    settings.USAGE_ROLLUP_SETTLE_SECONDS = 0
    now = timezone.now()
    for org in (acme, outsider):
        with scope.org_scope(org.id):
            meter_record(org=org, metric="decision_calls", corr_id="beat", now=now, ts=now)
    assert usage_rollup_all() == 2
    for org in (acme, outsider):
        with scope.org_scope(org.id):
            assert UsageHourly.objects.filter(metric="decision_calls").count() == 1
    assert usage_reconcile_daily() == 0
