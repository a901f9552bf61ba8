"""Case-note originals in an access export may name other people. Every identifier the discovery
scanners recognise in them is masked — whose it is cannot be told from the text, so the subject's
own too — and the export's README says so."""

from __future__ import annotations

import pytest

from dos import scope
from dos.authz import system_actor
from hitl import notes
from privacy.dsar.export import mask_identifiers
from tests.privacy.dsar_world import (
    PHONE,
    applicant,
    approve_handover,
    export_files,
    export_json,
    officer,
    run,
    submitted,
    verified,
)

pytestmark = pytest.mark.django_db
GUARANTOR_PHONE = "010-8765-4321"
GUARANTOR_RRN = "850101-1234568"


def test_identifiers_of_other_people_in_note_originals_are_masked(acme, lending):
    priya, pedro = officer(acme, "priya@acme.example"), officer(acme, "pedro@acme.example")
    person = applicant(acme)
    with scope.org_scope(acme.id):
        notes.note_add(case=person.case, actor=system_actor("test"),
                       body_md=f"Guarantor Kim: {GUARANTOR_PHONE}, kim.guarantor@example.com, RRN {GUARANTOR_RRN}.")
    request = submitted(acme, "access")
    verified(acme, request, priya)
    approve_handover(acme, request, pedro)
    assert run(acme, request) == "done"
    files = export_files(acme, request)
    originals = " ".join(r["original"] for r in {s["name"]: s for s in export_json(files)["sections"]}
                         ["case_notes"]["rows"])
    assert "Guarantor Kim" in originals  # the words stay
    for value in (GUARANTOR_PHONE, "kim.guarantor@example.com", GUARANTOR_RRN, PHONE):
        assert all(value not in data.decode(errors="ignore") for name, data in files.items() if name != "summary.pdf")
    assert "010-****-4321" in originals and "010-****-6789" in originals and "k***@example.com" in originals
    assert "masked" in files["README.txt"].decode()
    assert export_json(files)["redaction"]["identifiers_masked"] >= 4


@pytest.mark.parametrize("text", ["Paid 12,000 won on 2026-11-30 for case 7.", "Score 720, DSR 28.5%", ""])
def test_ordinary_numbers_are_left_alone(text):
    assert mask_identifiers(text, [0]) == text
