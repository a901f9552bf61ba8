"""Desk figures (p95 times, SLA compliance, reopen rate, depth) — in dosctl hitl and on /metrics —
and acting on a case from the shell."""

import datetime as dt
import io
import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dos import scope
from hitl.choices import CaseSource
from hitl.models import Case
from hitl.services import case_open
from hitl.tasks import metrics_refresh_all
from tests.factories import default_project

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 2, 0, 0, tzinfo=dt.UTC)


def run(*args):
    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def p95(values):
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    rank = 0.95 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@pytest.fixture
def history(acme, desk):
    """Five P1 cases opened at T0: picked after 10/20/30/40/50 min, resolved after 2/4/6/8/30 h (the
    last one past its 24 h SLA), one of them reopened by an appeal; plus one still open."""
    with scope.org_scope(acme.id):
        for i in range(5):
            case = case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.ADMIN, priority="p1",
                             actor="system:test", now=T0)
            Case.objects.filter(pk=case.pk).update(
                status="closed", outcome="approve", first_picked_at=T0 + dt.timedelta(minutes=10 * (i + 1)),
                resolved_at=T0 + dt.timedelta(hours=[2, 4, 6, 8, 30][i]), reopen_count=1 if i == 0 else 0)
        case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.ADMIN, priority="p1",
                  actor="system:test", now=T0)
    return {"first_pick": [600 * (i + 1) for i in range(5)], "resolution": [h * 3600 for h in (2, 4, 6, 8, 30)]}


def test_the_report_gives_p95_times_sla_compliance_and_reopen_rate(acme, history):
    report = run("hitl", "report", "--org", "acme", "--from", "2026-11-01", "--to", "2026-11-05")
    assert (report["opened"], report["resolved"], report["picked"]) == (6, 5, 5)
    assert report["first_pick_time_p95_s"] == pytest.approx(p95(history["first_pick"]))
    assert report["resolution_time_p95_s"] == pytest.approx(p95(history["resolution"]))
    assert (report["sla_compliance"], report["reopen_rate"]) == (0.8, 0.2)
    human = io.StringIO()
    call_command("hitl", "report", "--org", "acme", "--from", "2026-11-01", "--to", "2026-11-05", stdout=human)
    assert "SLA compliance        80.0 %" in human.getvalue()
    with pytest.raises(CommandError, match="after"):
        call_command("hitl", "report", "--org", "acme", "--from", "2026-11-05", "--to", "2026-11-01")


def test_queue_ls_and_metrics_show_depth_per_queue(client, settings, acme, outsider, history):
    queues = {q["queue"]: q for q in run("hitl", "queue", "ls", "--org", "acme")["queues"]}
    assert queues["review"]["depth"] == 1 and queues["review"]["breached"] == 1
    assert run("hitl", "queue", "ls", "--org", "outsider")["queues"] == []  # another org's desk is its own
    assert metrics_refresh_all() == 1
    settings.METRICS_BEARER_TOKEN = "metrics-token"
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token").content.decode()
    # Series are labelled by org id: a slug names the customer.
    assert f'dos_hitl_queue_depth{{org="{acme.id}",queue="review"}} 1.0' in text
    assert f'dos_hitl_queue_sla_breached{{org="{acme.id}",queue="review"}} 1.0' in text
    assert 'org="acme"' not in text


def test_a_reviewer_acts_on_a_case_from_the_shell(acme, desk, alice, mallory):
    with scope.org_scope(acme.id):
        case = case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.ADMIN, actor="system:test")
    done = run("hitl", "case", "act", "--org", "acme", str(case.number), "deny", "--as", "alice@acme.example",
               "--comment", "income not proven")
    assert (done["status"], done["outcome"]) == ("closed", "deny")
    with pytest.raises(CommandError, match="allowed: override, comment"):
        call_command("hitl", "case", "act", "--org", "acme", str(case.number), "approve", "--as", "alice@acme.example")
    with pytest.raises(CommandError, match="not a member"):
        call_command("hitl", "case", "act", "--org", "acme", str(case.number), "comment", "--as",
                     "mallory@outsider.example", "--comment", "x")


def test_dosctl_help_lists_the_review_desk():
    out = subprocess.run([sys.executable, "-m", "dos.cli", "--help"], capture_output=True, text=True, check=True)
    assert "hitl" in out.stdout and "review desk" in out.stdout
