"""A DSAR job killed at any step boundary resumes at its step and never repeats an effect.

The real Celery task function runs the request; a fault point stops it exactly as a kill would —
inside a step's transaction after its effect (PostgreSQL rolls the step back) or right after its
COMMIT (the step is done, the next one has not started). Restarting the task finishes the request
with exactly one export and one erasure. The deadline warning fires once, on an injected clock.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dos import scope
from dos.models import LedgerEntry, OutboxEvent
from privacy.dsar import pipeline
from privacy.dsar.deadlines import dsar_deadline_sweep
from privacy.models import DsarEvent, DsarExport, DsarRequest, DsarStep
from privacy.models.dsar import STEPS
from privacy.tasks import dsar_run
from privacy.vault import is_erased
from tests.privacy.dsar_world import applicant, approve_erasure, approve_handover, officer, submitted, verified

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Not an Exception: nothing in the job may catch it, as nothing catches SIGKILL."""


@pytest.fixture
def officers(acme):
    return officer(acme, "priya@acme.example"), officer(acme, "pedro@acme.example")


@pytest.fixture
def kill_at():
    installed = []

    def arm(step: str, phase: str):
        fired = []

        def point(at_step: str, at_phase: str) -> None:
            if (at_step, at_phase) == (step, phase) and not fired:
                fired.append(True)
                raise WorkerKilled(f"killed at {step}/{phase}")

        pipeline.fault_points.append(point)
        installed.append(point)
        return fired

    yield arm
    for point in installed:
        pipeline.fault_points.remove(point)


def _counts(org, request, token) -> dict:
    with scope.org_scope(org.id):
        return {
            "exports": DsarExport.objects.filter(request=request).count(),
            "erasures": LedgerEntry.objects.filter(chain="audit", action="vault.subject_erased").count(),
            "erasures_applied": LedgerEntry.objects.filter(chain="audit", action="dsar.erasure_applied").count(),
            "steps": sorted(DsarStep.objects.filter(request=request).values_list("step", flat=True)),
            "state": DsarRequest.objects.get(pk=request.pk).state,
            "erased": is_erased(org_id=org.id, subject_token=token),
        }


@pytest.mark.parametrize("phase", ["effect", "committed"])
@pytest.mark.parametrize("step", STEPS)
def test_a_job_killed_at_a_step_boundary_resumes_there_with_one_export_and_one_erasure(
        acme, lending, officers, kill_at, step, phase):
    priya, pedro = officers
    person = applicant(acme)
    request = submitted(acme, "erasure")
    verified(acme, request, priya)
    approve_erasure(acme, request, pedro)
    fired = kill_at(step, phase)
    with pytest.raises(WorkerKilled):
        dsar_run(org_id=str(acme.id), request_id=str(request.id))
    assert fired
    after_kill = _counts(acme, request, person.token)
    done_before = list(STEPS[:STEPS.index(step) + (1 if phase == "committed" else 0)])
    assert after_kill["steps"] == sorted(done_before)  # the killed step is whole or absent
    assert after_kill["state"] == (STEPS[STEPS.index(step) + 1] if phase == "committed" and step != "fulfil"
                                   else "done" if phase == "committed" else step)
    assert dsar_run(org_id=str(acme.id), request_id=str(request.id)) == "done"
    assert dsar_run(org_id=str(acme.id), request_id=str(request.id)) == "done"  # a late duplicate delivery
    final = _counts(acme, request, person.token)
    # Two keys destroyed, each once: the subject's and the request's own (its words and working copy).
    assert final == {"exports": 1, "erasures": 2, "erasures_applied": 1, "steps": sorted(STEPS), "state": "done",
                     "erased": True}
    with scope.org_scope(acme.id):
        assert DsarRequest.objects.get(pk=request.pk).attempts == (2 if phase == "effect" or step != "fulfil" else 1)


def test_the_deadline_warning_fires_once_on_the_injected_clock(acme, lending, officers):
    request = submitted(acme, "access")
    warn_at = request.warn_at
    assert request.due_at - warn_at == dt.timedelta(hours=48)
    with scope.org_scope(acme.id):
        assert dsar_deadline_sweep(now=warn_at - dt.timedelta(minutes=1)) == 0
        assert dsar_deadline_sweep(now=warn_at) == 1
        assert dsar_deadline_sweep(now=warn_at + dt.timedelta(hours=1)) == 0
        assert dsar_deadline_sweep(now=request.due_at + dt.timedelta(days=1)) == 0
        assert DsarEvent.objects.filter(request=request, kind="deadline_warning").count() == 1
        assert LedgerEntry.objects.filter(action="dsar.deadline_warning").count() == 1
        assert OutboxEvent.objects.filter(topic="dsar.deadline_warning", key=f"dsar:{request.id}").count() == 1


def test_a_finished_request_is_never_warned(acme, lending, officers):
    priya, pedro = officers
    applicant(acme)
    request = submitted(acme, "access")
    verified(acme, request, priya)
    approve_handover(acme, request, pedro)
    dsar_run(org_id=str(acme.id), request_id=str(request.id))
    with scope.org_scope(acme.id):
        assert dsar_deadline_sweep(now=request.due_at) == 0
