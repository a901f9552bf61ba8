"""A real Celery worker running an erasure request is killed (SIGKILL to its process group) in the
middle of the fulfil step; a new worker gets the message again and finishes the request with one
export and one erasure.

The job is caught deterministically: the test holds the subject's key row (``FOR UPDATE``, as the DBA),
so the erasure inside the fulfil step waits for it after every earlier step has committed its
checkpoint; the kill lands while the worker's backend is blocked there, and PostgreSQL rolls the
step back. (Worker and lock helpers: tests/chaos/test_workers.py.)
"""

from __future__ import annotations

import time

import pytest

from dos import scope
from dos.models import LedgerEntry
from privacy.models import DsarExport, DsarStep
from privacy.tasks import dsar_run
from privacy.vault import is_erased
from tests.chaos.test_workers import blocked_by, dba, deadline_poll, workers  # noqa: F401 (fixtures)
from tests.privacy.dsar_world import applicant, approve_erasure, officer, submitted, verified

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_killed_worker_leaves_the_erasure_to_the_next_one_and_it_happens_once(workers, dba, acme, lending):  # noqa: F811
    locker, watcher = dba
    priya, pedro = officer(acme, "priya@acme.example"), officer(acme, "pedro@acme.example")
    person = applicant(acme)
    request = submitted(acme, "erasure")
    verified(acme, request, priya)
    approve_erasure(acme, request, pedro)
    started = time.monotonic()
    first = workers("dsar-first")
    locker.execute("SELECT id FROM privacy_subjectkey WHERE subject_token = %s FOR UPDATE", [person.token])
    dsar_run.delay(org_id=str(acme.id), request_id=str(request.id))

    def state():
        return watcher.execute("SELECT state FROM privacy_dsarrequest WHERE id = %s", [request.id]).fetchone()[0]

    deadline_poll(lambda: state() == "fulfil" and blocked_by(watcher, locker), 30,
                  "the worker to block inside the fulfil step", alive=first.check_alive)
    first.kill()
    locker.rollback()
    assert state() == "fulfil"  # export committed, the erasure died with the worker
    second = workers("dsar-second")
    deadline_poll(lambda: state() == "done", 30, "the request to finish on the new worker", alive=second.check_alive)
    with scope.org_scope(acme.id):
        assert DsarExport.objects.filter(request=request).count() == 1
        assert sorted(DsarStep.objects.filter(request=request).values_list("step", flat=True)) == sorted(
            ["intake", "verify", "scope", "collect", "redact", "export", "fulfil"])
        # Each key destroyed once: the subject's and the request's own (its words and working copy).
        assert LedgerEntry.objects.filter(chain="audit", action="vault.subject_erased").count() == 2
        assert LedgerEntry.objects.filter(chain="audit", action="dsar.exported").count() == 1
    assert is_erased(org_id=acme.id, subject_token=person.token)
    print(f"\nDSAR worker kill: finished on the second worker {time.monotonic() - started:.1f}s after the start")
