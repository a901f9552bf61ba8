"""Crypto-shredding: erasing a subject destroys its data key; values sealed for it never open again,
the chains still verify, and replay of its decisions reports ``erased`` (never a mismatch)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from decisions import services as decisions
from decisions.models import DecisionRecord
from decisions.selectors import decision_replay
from dos import scope
from dos.authz import PermissionRefused, system_actor
from dos.ledger import chain_verify, chains_in_scope
from dos.models import LedgerEntry
from dos.vault import Erased
from hitl.choices import CaseSource
from hitl.notes import note_add, note_reveal, note_reveal_request
from hitl.services import case_open
from privacy.models import SubjectKey
from privacy.vault import crypto, erase_subject, is_erased, seal, unseal
from privacy.vault.hooks import DECISION_TABLE  # decision inputs: what a job reads for decision.replay
from privacy.vault.keystore import KeystoreError, key_provider
from tenancy.approvals import approval_grant
from tests.decisions.test_decide_api import BASE
from tests.factories import as_member, default_project

pytestmark = pytest.mark.django_db
JOB = system_actor("dsar.erasure")
PHONE = "010-1234-5678"


def _seal(org, subject, row, text=b"secret"):
    return seal(actor=JOB, org_id=org.id, subject_token=subject, table=DECISION_TABLE, row=str(row), field="f", plaintext=text)


def test_after_erasure_nothing_sealed_for_the_subject_opens_and_others_are_untouched(acme):
    theirs = [_seal(acme, "vt_gone", i, f"value {i}".encode()) for i in range(20)]
    mine = _seal(acme, "vt_stays", 1, b"kept")
    result = erase_subject(actor=JOB, org_id=acme.id, subject_token="vt_gone", reason="DSAR erasure")
    assert not result.already_erased and is_erased(org_id=acme.id, subject_token="vt_gone")
    for sealed in theirs:
        with pytest.raises(Erased):
            unseal(actor=JOB, org_id=acme.id, sealed=sealed, purpose="decision.replay")
    assert unseal(actor=JOB, org_id=acme.id, sealed=mine, purpose="decision.replay") == b"kept"
    with scope.org_scope(acme.id):
        row = SubjectKey.objects.get(subject_token="vt_gone")
    assert row.wrapped_key is None and row.erased_reason == "DSAR erasure"
    # No key the keystore holds opens the value: the only copy of the data key is gone.
    provider, parsed = key_provider(), crypto.parse(theirs[0])
    for version in provider.versions():
        with pytest.raises(KeystoreError):
            provider.unwrap(version, b"\0" * 60, crypto.wrap_aad(acme.id, row.id, "vt_gone", version))
    assert parsed.key_id == row.id
    with pytest.raises(Erased):  # and nothing new is sealed for them
        _seal(acme, "vt_gone", 99)


def test_erasure_is_idempotent_and_on_the_audit_chain_once(acme):
    _seal(acme, "vt_twice", 1)
    first = erase_subject(actor=JOB, org_id=acme.id, subject_token="vt_twice", reason="DSAR")
    again = erase_subject(actor=JOB, org_id=acme.id, subject_token="vt_twice", reason="DSAR retry")
    assert again.already_erased and again.erased_at == first.erased_at and again.key_id == first.key_id
    unknown = erase_subject(actor=JOB, org_id=acme.id, subject_token="vt_never_seen", reason="DSAR")
    assert not unknown.already_erased and is_erased(org_id=acme.id, subject_token="vt_never_seen")
    with scope.org_scope(acme.id):
        assert LedgerEntry.objects.filter(chain="audit", action="vault.subject_erased").count() == 2


def test_erasure_needs_the_dsar_fulfil_permission(acme, bob):
    with pytest.raises(PermissionRefused):
        erase_subject(actor=as_member(acme, bob), org_id=acme.id, subject_token="vt_x", reason="no")


def _phone_policy(acme, lending, olivia, bob):
    source = lending.source.replace(
        "      product: {type: string, enum: [personal, mortgage, auto]}\n",
        "      product: {type: string, enum: [personal, mortgage, auto]}\n      contact_phone: {type: string}\n",
    ).replace("rules:\n", f"rules:\n  - id: X001_blocked_phone\n    when: \"contact_phone == '{PHONE}'\"\n"
                          "    then: [{action: deny}]\n    audit: {reason_code: DELINQUENCY_RECENT, message: \"x\"}\n", 1)
    with scope.org_scope(acme.id):
        version = decisions.version_create(project=default_project(acme), source=source, semver="0.2.0",
                                           actor=as_member(acme, olivia))
        decisions.version_submit(version=version, actor=as_member(acme, olivia))
        decisions.version_approve(version=version, actor=as_member(acme, bob))
        decisions.version_publish(version=version, actor=as_member(acme, bob))


def _decide(acme, subject, phone):
    with scope.org_scope(acme.id):
        made = decisions.decision_make(org=acme, project=default_project(acme), subject_id=subject,
                                       purpose="loan_screening", data={**BASE, "contact_phone": phone},
                                       actor="system:test")
        return DecisionRecord.objects.select_related("policy_version").get(pk=made.record.pk)


def test_replay_of_an_erased_subjects_decisions_reports_erased_never_a_mismatch(acme, lending, olivia, bob):
    _phone_policy(acme, lending, olivia, bob)
    needed = _decide(acme, "lead-7", PHONE)  # the rule read the phone, which the snapshot masks
    not_needed = _decide(acme, "lead-7", "010-9999-0000")
    other = _decide(acme, "lead-8", PHONE)
    assert needed.outcome == "deny" and not_needed.outcome == "approve" and PHONE not in json.dumps(needed.snapshot)
    assert needed.refs["sealed_input"].startswith("vs2.") and PHONE not in needed.refs["sealed_input"]
    with scope.org_scope(acme.id):  # before erasure, replay uses the sealed original: an exact match
        assert decision_replay(needed)["status"] == "match"
        assert LedgerEntry.objects.filter(chain="audit", action="vault.unsealed",
                                          data__purpose="decision.replay").count() == 1
    erase_subject(actor=JOB, org_id=acme.id, subject_token=needed.subject_token, reason="DSAR erasure")
    with scope.org_scope(acme.id):
        replays = {name: decision_replay(r) for name, r in
                   (("needed", needed), ("not_needed", not_needed), ("other", other))}
    assert replays["needed"]["status"] == "erased" and replays["needed"]["diff"] == {}
    assert replays["not_needed"]["status"] == "match" and replays["not_needed"]["match"] is True
    assert replays["other"]["status"] == "match"  # another subject's original still opens
    out = io.StringIO()
    call_command("decision", "replay", str(needed.id), "--org", "acme", "--json", stdout=out)
    assert json.loads(out.getvalue())["status"] == "erased"


def test_every_chain_verifies_after_erasure_and_notes_of_the_subject_stay_masked(acme, lending, olivia, bob, desk):
    _phone_policy(acme, lending, olivia, bob)
    record = _decide(acme, "lead-9", PHONE)
    with scope.org_scope(acme.id):
        case = case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.ADMIN, actor="system:test",
                         decision=record)
        note = note_add(case=case, actor=as_member(acme, bob), body_md=f"Applicant called from {PHONE}.")
    assert note.redacted and PHONE not in note.body_md
    erase_subject(actor=JOB, org_id=acme.id, subject_token=record.subject_token, reason="DSAR erasure")
    with scope.org_scope(acme.id):
        approval_grant(request=note_reveal_request(note=note, actor=as_member(acme, bob)),
                       actor=as_member(acme, olivia))
        with pytest.raises(Erased):
            note_reveal(note=note, actor=as_member(acme, bob))
        note.refresh_from_db()
        assert "[PHONE" in note.body_md  # the masked text stays
    with scope.platform_scope(reason="test: verify every chain"):
        scopes = chains_in_scope(org_id=acme.id)
        results = [chain_verify(org_id=org_id, chain=chain) for org_id, chain in scopes]
    assert scopes and all(r.ok for r in results), [r.as_dict() for r in results if not r.ok]
    out = io.StringIO()
    call_command("audit", "verify", "--org", "acme", "--json", stdout=out)  # exits 1 when a chain is broken
    report = json.loads(out.getvalue())
    assert report["ok"] and {c["chain"] for c in report["chains"]} >= {"audit", "decisions"}


def test_a_record_without_a_sealed_original_reports_erased_once_its_subject_is_erased(acme, lending, olivia, bob):
    """Records decided before inputs were sealed: the masked snapshot is all there is."""
    import uuid

    _phone_policy(acme, lending, olivia, bob)
    recent = _decide(acme, "lead-old", PHONE)
    with scope.org_scope(acme.id):  # the same decision as the vault's predecessor recorded it
        old = DecisionRecord.objects.get(pk=recent.pk)
        old.pk, old.refs, old.ledger_seq = uuid.uuid4(), {"pii_masked": recent.refs["pii_masked"]}, None
        old.save(force_insert=True)
        old = DecisionRecord.objects.select_related("policy_version").get(pk=old.pk)
    assert "sealed_input" not in old.refs
    with scope.org_scope(acme.id):
        assert decision_replay(old)["status"] == "mismatch"
    erase_subject(actor=JOB, org_id=acme.id, subject_token=old.subject_token, reason="DSAR erasure")
    with scope.org_scope(acme.id):
        assert decision_replay(old)["status"] == "erased"


def test_a_subject_deciding_again_after_erasure_keeps_a_masked_snapshot_only(acme, lending, olivia, bob):
    _phone_policy(acme, lending, olivia, bob)
    first = _decide(acme, "lead-back", PHONE)
    erase_subject(actor=JOB, org_id=acme.id, subject_token=first.subject_token, reason="DSAR erasure")
    again = _decide(acme, "lead-back", PHONE)
    assert again.outcome == "deny" and "sealed_input" not in again.refs and again.refs["pii_masked"]
    with scope.org_scope(acme.id):
        assert decision_replay(again)["status"] == "erased"
