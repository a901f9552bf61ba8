"""The purpose of an unseal is not whatever the caller says. The product's own purposes belong to
their code paths — ``dsar.access`` and ``decision.replay`` to jobs (the first under an access
request's approved hand-over or for the request's own copies, the second for recorded decision
inputs only), ``hitl.case_note`` to case-note originals, ``decision.audit`` to a person's four-eyes
read — and a person's approval opens only the value it names (the value itself, or the note whose
original it is)."""

from __future__ import annotations

import pytest

from dos import scope
from dos.authz import system_actor
from privacy.vault import seal, unseal
from privacy.vault.keystore import create_keystore, reset_provider
from privacy.vault.services import UnsealRefused, data_keys, unseal_request
from tenancy.approvals import approval_grant, approval_require
from tests.factories import UserFactory, add_member, as_member, verified_client

pytestmark = pytest.mark.django_db
JOB = system_actor("test")


@pytest.fixture(autouse=True)
def keystore(tmp_path, settings):
    settings.DOS_VAULT_KEYSTORE = str(create_keystore(tmp_path / "keystore.json"))
    data_keys.clear()
    reset_provider()
    yield
    data_keys.clear()
    reset_provider()


def _seal(org, table="decisions_decisionrecord", row="1"):
    return seal(actor=JOB, org_id=org.id, subject_token="vt_subject1", table=table, row=row, field="input",
                plaintext=b"900101-1234567")


def _approved(org, asker, approver, sealed):
    with scope.org_scope(org.id):
        request = unseal_request(actor=as_member(org, asker), org_id=org.id, sealed=sealed, reason="complaint")
        return approval_grant(request=request, actor=as_member(org, approver))


@pytest.mark.parametrize("purpose", ["dsar.access", "decision.replay"])
def test_a_person_cannot_claim_a_jobs_purpose_even_with_an_approval(acme, bob, olivia, purpose):
    sealed = _seal(acme)
    approval = _approved(acme, bob, olivia, sealed)
    with pytest.raises(UnsealRefused) as refused:
        unseal(actor=as_member(acme, bob), org_id=acme.id, sealed=sealed, purpose=purpose, approval=approval)
    assert refused.value.code == "purpose_not_allowed"
    # The same approval still opens it for the person's own purpose (it was not used up).
    assert unseal(actor=as_member(acme, bob), org_id=acme.id, sealed=sealed, purpose="decision.audit",
                  approval=approval) == b"900101-1234567"


def test_the_case_note_purpose_reads_case_note_originals_only(acme, bob, olivia):
    sealed = _seal(acme)
    approval = _approved(acme, bob, olivia, sealed)
    with pytest.raises(UnsealRefused) as refused:
        unseal(actor=as_member(acme, bob), org_id=acme.id, sealed=sealed, purpose="hitl.case_note", approval=approval)
    assert refused.value.code == "purpose_not_allowed"
    with pytest.raises(UnsealRefused):  # a person's purpose is not a job's
        unseal(actor=JOB, org_id=acme.id, sealed=sealed, purpose="decision.audit")


def test_a_job_reads_for_its_purposes_only_where_they_apply(acme):
    from privacy.vault import REQUEST_KEY_PREFIX, REQUEST_TABLE

    decision_input, note_original = _seal(acme), _seal(acme, table="hitl_casenote", row="41")
    assert unseal(actor=JOB, org_id=acme.id, sealed=decision_input, purpose="decision.replay") == b"900101-1234567"
    with pytest.raises(UnsealRefused) as refused:  # replay re-reads decision inputs, nothing else
        unseal(actor=JOB, org_id=acme.id, sealed=note_original, purpose="decision.replay")
    assert refused.value.code == "purpose_not_allowed"
    for subjects_value in (decision_input, note_original,  # not without an access request's hand-over
                           seal(actor=JOB, org_id=acme.id, subject_token="vt_subject1", table=REQUEST_TABLE,
                                row="r1", field="working", plaintext=b"theirs")):
        with pytest.raises(UnsealRefused) as refused:
            unseal(actor=JOB, org_id=acme.id, sealed=subjects_value, purpose="dsar.access")
        assert refused.value.code == "handover_required"
    # A request's own working copy, sealed under the request's key, is its job's to reopen.
    own = seal(actor=JOB, org_id=acme.id, subject_token=f"{REQUEST_KEY_PREFIX}r1", table=REQUEST_TABLE, row="r1",
               field="working", plaintext=b"collected under the hand-over")
    assert unseal(actor=JOB, org_id=acme.id, sealed=own, purpose="dsar.access") == b"collected under the hand-over"
    # ... and only its own: another request's key in this row is not the request's copy.
    other = seal(actor=JOB, org_id=acme.id, subject_token=f"{REQUEST_KEY_PREFIX}r2", table=REQUEST_TABLE, row="r1",
                 field="working", plaintext=b"misfiled")
    with pytest.raises(UnsealRefused):
        unseal(actor=JOB, org_id=acme.id, sealed=other, purpose="dsar.access")


def test_an_approval_for_a_note_does_not_open_another_value(acme, bob, olivia):
    """A ``vault.unseal`` approval naming a case note (``case_note:<id>``) opens that note's original
    only — not a decision input, not another note."""
    decision_input = _seal(acme)
    note_original = _seal(acme, table="hitl_casenote", row="41")
    other_note = _seal(acme, table="hitl_casenote", row="42")
    with scope.org_scope(acme.id):
        from tenancy.models import Org

        asked = approval_require(org=Org.objects.get(id=acme.id), action="vault.unseal", target="case_note:41",
                                 requested_by=bob)
        approval = approval_grant(request=asked, actor=as_member(acme, olivia))
    for sealed, purpose in ((decision_input, "decision.audit"), (other_note, "hitl.case_note")):
        with pytest.raises(UnsealRefused):
            unseal(actor=as_member(acme, bob), org_id=acme.id, sealed=sealed, purpose=purpose, approval=approval)
    assert unseal(actor=as_member(acme, bob), org_id=acme.id, sealed=note_original, purpose="hitl.case_note",
                  approval=approval) == b"900101-1234567"


def test_the_back_office_accepts_only_its_listed_purposes(client, acme, lending, olivia, bob):
    from privacy.models import SubjectKey
    from tenancy.models import ApprovalRequest
    from tests.privacy.test_erasure import PHONE, _decide, _phone_policy

    pam = UserFactory(email="pam@acme.example", full_name="Pam Privacy")
    add_member(acme, pam, "privacy_officer")
    _phone_policy(acme, lending, olivia, bob)
    record = _decide(acme, "lead-7", PHONE)
    with scope.org_scope(acme.id):
        key = SubjectKey.objects.get(subject_token=record.subject_token)
    page = f"/admin/privacy/subjectkey/{key.pk}/sealed/"
    browser = verified_client(client, pam)
    browser.post(page, {"decision": str(record.id), "do": "request", "reason": "complaint"})
    with scope.org_scope(acme.id):
        approval_grant(request=ApprovalRequest.objects.get(action="vault.unseal", requested_by=pam),
                       actor=as_member(acme, olivia))
    for forged in ("dsar.access", "marketing", ""):
        answer = browser.post(page, {"decision": str(record.id), "do": "read", "purpose": forged})
        assert answer.status_code == 302 and PHONE not in answer.content.decode()
    read = browser.post(page, {"decision": str(record.id), "do": "read", "purpose": "decision.audit"})
    assert read.status_code == 200 and PHONE in read.content.decode()
