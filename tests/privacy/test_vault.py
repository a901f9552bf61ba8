"""Vault v2: sealing under a subject's data key, four eyes on reading, the keystore's rules."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dos import scope
from dos.authz import PermissionRefused, system_actor
from dos.models import LedgerEntry
from dos.vault import VaultError, vault
from privacy.models import SubjectKey
from privacy.vault import crypto, seal, unseal, unseal_request
from privacy.vault.hooks import DECISION_TABLE  # decision inputs: what a job reads for decision.replay
from privacy.vault.keystore import FileKeystore, KeystoreError, create_keystore, key_provider
from privacy.vault.services import ConsentMissing, UnsealRefused, data_keys
from tenancy.approvals import FourEyesViolation, approval_grant
from tests.factories import as_member

pytestmark = pytest.mark.django_db
SYSTEM = system_actor("test")
ROOT = Path(__file__).resolve().parents[2]


def _seal(org, subject="vt_subject1", text=b"900101-1234567", row="1"):
    return seal(actor=SYSTEM, org_id=org.id, subject_token=subject, table=DECISION_TABLE, row=row, field="rrn", plaintext=text)


def _grant(org, request, user):
    with scope.org_scope(org.id):
        return approval_grant(request=request, actor=as_member(org, user))


def test_a_sealed_value_opens_only_in_its_org_and_place_and_carries_no_plaintext(acme, outsider):
    sealed = _seal(acme)
    assert sealed.startswith("vs2.") and b"900101" not in base64.urlsafe_b64decode(sealed[4:] + "==")
    assert _seal(acme) != sealed  # a fresh random nonce every time
    assert unseal(actor=SYSTEM, org_id=acme.id, sealed=sealed, purpose="decision.replay") == b"900101-1234567"
    with pytest.raises(VaultError):
        unseal(actor=SYSTEM, org_id=outsider.id, sealed=sealed, purpose="decision.replay")
    parsed = crypto.parse(sealed)
    moved = crypto.PREFIX + base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(sealed[4:] + "==").replace(b"\x01" + b"1" + b"\x03rrn", b"\x01" + b"2" + b"\x03rrn")
    ).decode().rstrip("=")
    assert crypto.parse(moved).row == "2" and parsed.row == "1"
    with pytest.raises(VaultError):  # the place is bound in as associated data
        unseal(actor=SYSTEM, org_id=acme.id, sealed=moved, purpose="decision.replay")
    with pytest.raises(VaultError):
        unseal(actor=SYSTEM, org_id=acme.id, sealed="vs2.AAAA", purpose="decision.replay")


def test_one_data_key_per_subject_wrapped_by_the_keystore(acme):
    _seal(acme, "vt_a"), _seal(acme, "vt_a"), _seal(acme, "vt_b")
    with scope.org_scope(acme.id):
        keys = list(SubjectKey.objects.order_by("subject_token"))
    assert [k.subject_token for k in keys] == ["vt_a", "vt_b"]
    assert all(k.kek_version == key_provider().active_version() and len(bytes(k.wrapped_key)) == 12 + 32 + 16
               for k in keys)


def test_sealing_needs_the_seal_permission(acme, alice):
    with pytest.raises(PermissionRefused):
        seal(actor=as_member(acme, alice), org_id=acme.id, subject_token="vt_x", table=DECISION_TABLE, row="1", field="f",
             plaintext=b"x")


def test_a_person_reads_a_sealed_value_only_with_a_second_persons_approval_once(acme, bob, olivia, alice):
    sealed = _seal(acme)
    with pytest.raises(PermissionRefused):
        unseal(actor=as_member(acme, alice), org_id=acme.id, sealed=sealed, purpose="decision.audit")
    with pytest.raises(UnsealRefused) as refused:
        unseal(actor=as_member(acme, bob), org_id=acme.id, sealed=sealed, purpose="decision.audit")
    assert refused.value.code == "four_eyes"
    request = unseal_request(actor=as_member(acme, bob), org_id=acme.id, sealed=sealed, reason="subject's request")
    with pytest.raises(UnsealRefused):  # requested, not yet approved
        unseal(actor=as_member(acme, bob), org_id=acme.id, sealed=sealed, purpose="decision.audit", approval=request)
    with pytest.raises(FourEyesViolation):
        _grant(acme, request, bob)
    _grant(acme, request, olivia)
    with pytest.raises(UnsealRefused):  # the approval is bob's, not olivia's
        unseal(actor=as_member(acme, olivia), org_id=acme.id, sealed=sealed, purpose="decision.audit", approval=request)
    other = _seal(acme, row="2")
    with pytest.raises(UnsealRefused):  # given for another value
        unseal(actor=as_member(acme, bob), org_id=acme.id, sealed=other, purpose="decision.audit", approval=request)
    assert unseal(actor=as_member(acme, bob), org_id=acme.id, sealed=sealed, purpose="decision.audit",
                  approval=request) == b"900101-1234567"
    with pytest.raises(UnsealRefused) as used:
        unseal(actor=as_member(acme, bob), org_id=acme.id, sealed=sealed, purpose="decision.audit", approval=request)
    assert used.value.code == "approval_used"
    with scope.org_scope(acme.id):
        entries = list(LedgerEntry.objects.filter(chain="audit", action="vault.unsealed"))
    assert len(entries) == 1 and entries[0].data["purpose"] == "decision.audit"
    assert "900101" not in json.dumps(entries[0].data) and entries[0].data["approval"] == str(request.pk)


def test_reading_for_a_purpose_nothing_covers_is_refused_and_a_consent_covers_it(acme):
    from privacy.consent import consent_grant, consent_revoke

    sealed = _seal(acme)
    with pytest.raises(ConsentMissing) as refused:
        unseal(actor=SYSTEM, org_id=acme.id, sealed=sealed, purpose="marketing")
    assert refused.value.code == "consent_missing"
    with scope.org_scope(acme.id):
        consent = consent_grant(org_id=acme.id, subject_token="vt_subject1", purposes=["marketing"], source="form",
                                actor=SYSTEM)
    assert unseal(actor=SYSTEM, org_id=acme.id, sealed=sealed, purpose="marketing") == b"900101-1234567"
    with scope.org_scope(acme.id):
        entry = LedgerEntry.objects.filter(chain="audit", action="vault.unsealed").latest("seq")
        assert entry.data["basis"] == f"consent:{consent.pk}"
        consent_revoke(consent=consent, actor=SYSTEM)
    with pytest.raises(ConsentMissing):
        unseal(actor=SYSTEM, org_id=acme.id, sealed=sealed, purpose="marketing")


def test_the_kernel_interface_is_vault_v2(acme):
    sealed = vault().seal(actor=SYSTEM, org_id=acme.id, subject_token="vt_k", table=DECISION_TABLE, row="9", field="f",
                          plaintext=b"hello")
    assert vault().unseal(actor=SYSTEM, org_id=acme.id, sealed=sealed.encode(), purpose="decision.replay") == b"hello"


def test_the_keystore_must_be_owner_read_only(tmp_path):
    path = create_keystore(tmp_path / "ks.json")
    assert os.stat(path).st_mode & 0o777 == 0o400
    assert FileKeystore(path).versions() == [1, 2]
    os.chmod(path, 0o640)
    with pytest.raises(KeystoreError, match="0400"):
        FileKeystore(path)
    os.chmod(path, 0o600)
    with pytest.raises(KeystoreError, match="0400"):
        FileKeystore(path)


def test_dev_and_test_create_their_keystore_on_first_use(tmp_path, settings, acme):
    settings.DOS_VAULT_KEYSTORE = str(tmp_path / "vault" / "keystore.json")
    data_keys.clear()
    _seal(acme, "vt_fresh")
    assert os.stat(settings.DOS_VAULT_KEYSTORE).st_mode & 0o777 == 0o400
    settings.DOS_VAULT_KEYSTORE_AUTOCREATE = False
    settings.DOS_VAULT_KEYSTORE = str(tmp_path / "elsewhere.json")
    data_keys.clear()
    with pytest.raises(KeystoreError, match="No keystore"):
        _seal(acme, "vt_other")


def test_production_refuses_to_start_without_a_keystore():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOS_VAULT")}
    env |= {"DJANGO_ENV": "prod", "SECRET_KEY": "x" * 50, "DOS_VAULT_KEY": base64.b64encode(b"k" * 32).decode(),
            "ALLOWED_HOSTS": "example.com"}
    proc = subprocess.run([sys.executable, "-c", "import dos.settings"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0 and "DOS_VAULT_KEYSTORE" in proc.stderr


def test_keys_never_reach_logs_or_chains(acme, bob, olivia, caplog, capsys):
    caplog.set_level("DEBUG")
    sealed = _seal(acme)
    request = unseal_request(actor=as_member(acme, bob), org_id=acme.id, sealed=sealed)
    _grant(acme, request, olivia)
    unseal(actor=as_member(acme, bob), org_id=acme.id, sealed=sealed, purpose="decision.audit", approval=request)
    keys = json.loads(Path(key_provider().path).read_text())["keys"]
    secrets = [k["key"] for k in keys]
    with scope.org_scope(acme.id):
        row = SubjectKey.objects.get(subject_token="vt_subject1")
        chain = json.dumps([e.data for e in LedgerEntry.objects.filter(chain="audit")] +
                           [e.target for e in LedgerEntry.objects.filter(chain="audit")])
    data_key = crypto.__name__ and key_provider().unwrap(row.kek_version, bytes(row.wrapped_key),
                                                         crypto.wrap_aad(acme.id, row.id, row.subject_token,
                                                                         row.kek_version))
    secrets += [base64.b64encode(data_key).decode(), data_key.hex()]
    seen = caplog.text + capsys.readouterr().err + chain + repr(key_provider())
    assert not [s for s in secrets if s in seen]


def test_production_checks_that_its_keystore_loads(tmp_path, settings):
    from privacy.vault.checks import keystore_loads
    from privacy.vault.keystore import reset_provider

    settings.DJANGO_ENV, settings.DOS_VAULT_KEYSTORE_AUTOCREATE = "prod", False
    settings.DOS_VAULT_KEYSTORE = str(tmp_path / "missing.json")
    reset_provider()
    [error] = keystore_loads()
    assert error.id == "privacy.E001" and "No keystore" in error.msg
    settings.DOS_VAULT_KEYSTORE = str(create_keystore(tmp_path / "ks.json"))
    reset_provider()
    assert keystore_loads() == []
    os.chmod(settings.DOS_VAULT_KEYSTORE, 0o644)
    reset_provider()
    [error] = keystore_loads()
    assert "0400" in error.msg
    reset_provider()
