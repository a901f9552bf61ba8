"""An erasure leaves none of the subject's own words readable: every request of the subject seals its
message, corrections, working copy and export under a key of its own (``dsar:<id>``), and the erasure
destroys all of them — earlier requests without an export and the erasure request itself — while the
erasure's value-free receipt stays readable under a key of its own."""

from __future__ import annotations

import pytest

from dos import scope
from dos.authz import system_actor
from privacy.dsar.services import request_key_token
from privacy.vault import Erased, is_erased, unseal
from tests.privacy.dsar_world import applicant, approve_erasure, export_files, export_json, officer, run, submitted, verified

pytestmark = pytest.mark.django_db
JOB = system_actor("dsar")


def test_the_subjects_words_in_every_request_are_unreadable_after_the_erasure(acme, lending):
    priya, pedro = officer(acme, "priya@acme.example"), officer(acme, "pedro@acme.example")
    applicant(acme)
    fix = submitted(acme, "rectification", details={"corrections": {"address": "Seoul, Mapo-gu 12"}})
    verified(acme, fix, priya)
    assert run(acme, fix) == "done"
    erasure = submitted(acme, "erasure", details={"message": "Delete me; my new number is 010-9999-8888."})
    verified(acme, erasure, priya)
    approve_erasure(acme, erasure, pedro)
    assert run(acme, erasure) == "done"
    with scope.org_scope(acme.id):
        fix.refresh_from_db()
        erasure.refresh_from_db()
        assert erasure.result["erased"] is True
        for request in (fix, erasure):
            assert request.details_sealed
            assert is_erased(org_id=acme.id, subject_token=request_key_token(request.id))
            with pytest.raises(Erased):
                unseal(actor=JOB, org_id=acme.id, sealed=request.details_sealed, purpose="dsar.access")
    receipt = export_json(export_files(acme, erasure))  # the inventory is still handed over
    assert all(s["rows"] == [] for s in receipt["sections"]) and "9999-8888" not in str(receipt)


def test_a_deferred_erasure_destroys_nothing(acme, lending):
    from privacy.holds import hold_place
    from tests.factories import as_member

    priya, pedro = officer(acme, "priya@acme.example"), officer(acme, "pedro@acme.example")
    person = applicant(acme)
    with scope.org_scope(acme.id):
        hold_place(org_id=acme.id, actor=as_member(acme, pedro), scope="subjects", targets=[person.token],
                   reason="Litigation")
    erasure = submitted(acme, "erasure", details={"message": "Delete me."})
    verified(acme, erasure, priya)
    approve_erasure(acme, erasure, pedro)
    assert run(acme, erasure) == "done"
    with scope.org_scope(acme.id):
        erasure.refresh_from_db()
        assert unseal(actor=JOB, org_id=acme.id, sealed=erasure.details_sealed, purpose="dsar.access")
