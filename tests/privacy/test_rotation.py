"""KEK rotation: four eyes, resumable re-wrapping, nothing lost under concurrent seals (threads with
their own connections), and the retired KEK refused afterwards — logged and on the audit chain."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from django.db import connection
from structlog.testing import capture_logs

from dos import scope
from dos.authz import PermissionRefused, system_actor
from dos.models import LedgerEntry
from dos.vault import VaultError
from privacy.models import KekRotation, RotationStatus, SubjectKey
from privacy.vault import seal, unseal
from privacy.vault.hooks import DECISION_TABLE  # decision inputs: what a job reads for decision.replay
from privacy.vault.keystore import add_key_version, create_keystore, key_provider, reset_provider
from privacy.vault.rotation import RotationRefused, rotation_request, rotation_run, rotation_start
from privacy.vault.services import data_keys
from tenancy.approvals import FourEyesViolation, approval_grant
from tenancy.models import ApprovalRequest
from tests.factories import UserFactory, add_member, as_member

JOB = system_actor("test")


@pytest.fixture
def keystore(tmp_path, settings):
    settings.DOS_VAULT_KEYSTORE = str(create_keystore(tmp_path / "keystore.json"))
    data_keys.clear()
    reset_provider()
    yield settings.DOS_VAULT_KEYSTORE
    data_keys.clear()
    reset_provider()


@pytest.fixture
def sam(acme):
    user = UserFactory(email="sam@acme.example", full_name="Sam Security")
    add_member(acme, user, "security_admin")
    return user


def _seal(org, subject, row, text):
    return seal(actor=JOB, org_id=org.id, subject_token=subject, table=DECISION_TABLE, row=str(row), field="f", plaintext=text)


def _approved_rotation(org, asker, approver):
    rotation = rotation_request(actor=as_member(org, asker), org_id=org.id, reason="yearly rotation")
    with scope.org_scope(org.id):
        approval = ApprovalRequest.objects.get(pk=rotation.approval_id)
        with pytest.raises(FourEyesViolation):
            approval_grant(request=approval, actor=as_member(org, asker))
        approval_grant(request=approval, actor=as_member(org, approver))
    return rotation


@pytest.mark.django_db
def test_a_rotation_needs_two_people_rewraps_every_key_and_refuses_the_old_one(keystore, acme, olivia, sam, alice):
    sealed = {f"vt_{i}": _seal(acme, f"vt_{i}", i, f"value {i}".encode()) for i in range(30)}
    with scope.org_scope(acme.id):
        before = {k.subject_token: (bytes(k.wrapped_key), k.kek_version) for k in SubjectKey.objects.all()}
    with pytest.raises(RotationRefused):  # only forward, to a version the keystore holds
        rotation_request(actor=as_member(acme, olivia), org_id=acme.id, to_version=1)
    with pytest.raises(RotationRefused):
        rotation_request(actor=as_member(acme, olivia), org_id=acme.id, to_version=7)
    with pytest.raises(PermissionRefused):
        rotation_request(actor=as_member(acme, alice), org_id=acme.id)  # reviewers do not hold keys.rotate
    rotation = rotation_request(actor=as_member(acme, olivia), org_id=acme.id)
    with pytest.raises(PermissionRefused) as refused:
        rotation_start(actor=as_member(acme, olivia), rotation=rotation, run=False)
    assert refused.value.code == "four_eyes"
    with scope.org_scope(acme.id):
        KekRotation.objects.filter(pk=rotation.pk).update(status=RotationStatus.CANCELLED)
    rotation = _approved_rotation(acme, olivia, sam)
    rotation = rotation_start(actor=as_member(acme, olivia), rotation=rotation, run=False)
    assert rotation.status == RotationStatus.RUNNING and rotation.total == 30
    rotation = rotation_run(org_id=acme.id, rotation_id=rotation.pk, batch=7, max_batches=2)  # killed midway
    assert rotation.status == RotationStatus.RUNNING and rotation.done == 14
    rotation = rotation_run(org_id=acme.id, rotation_id=rotation.pk, batch=7)  # resumed
    assert rotation.status == RotationStatus.COMPLETED and rotation.done == 30
    with scope.org_scope(acme.id):
        assert set(SubjectKey.objects.values_list("kek_version", flat=True)) == {2}
    assert all(unseal(actor=JOB, org_id=acme.id, sealed=v, purpose="decision.replay") == f"value {k[3:]}".encode()
               for k, v in sealed.items())
    # A data key wrapped by the retired version (a restored backup, say) is refused and logged.
    old_wrapped, old_version = before["vt_3"]
    with scope.org_scope(acme.id):
        SubjectKey.objects.filter(subject_token="vt_3").update(wrapped_key=old_wrapped, kek_version=old_version)
    data_keys.clear()
    with capture_logs() as logs, pytest.raises(VaultError) as refused:
        unseal(actor=JOB, org_id=acme.id, sealed=sealed["vt_3"], purpose="decision.replay")
    assert refused.value.code == "kek_retired"
    assert any(e["event"] == "vault.retired_kek_refused" and e["kek_version"] == 1 for e in logs)
    with scope.org_scope(acme.id):
        assert LedgerEntry.objects.filter(chain="audit", action="vault.retired_kek_refused").exists()
        assert LedgerEntry.objects.filter(chain="audit", action="vault.rotation_completed").exists()
        chain = json.dumps([[e.action, e.target, e.data] for e in LedgerEntry.objects.filter(chain="audit")])
    keks = [k["key"] for k in json.loads(Path(keystore).read_text())["keys"]]
    assert not [k for k in keks if k in chain or k in json.dumps(logs, default=str)]


@pytest.mark.django_db(transaction=True)
def test_a_rotation_under_concurrent_seals_loses_nothing(keystore, acme, olivia, sam):
    for i in range(120):
        _seal(acme, f"vt_old{i}", i, b"before")
    rotation = rotation_start(actor=as_member(acme, olivia), rotation=_approved_rotation(acme, olivia, sam), run=False)
    results: list[tuple[str, str, bytes]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def sealer(n: int) -> None:
        try:
            start.wait()
            shared = "vt_everyone"  # every thread creates the same new subject's key at once
            results.append((shared, _seal(acme, shared, f"{n}-shared", b"shared"), b"shared"))
            for i in range(40):  # existing subjects (cached or not) and brand-new ones, interleaved
                subject = f"vt_old{(n * 40 + i) % 120}" if i % 2 else f"vt_new{n}_{i}"
                text = f"{n}:{i}".encode()
                results.append((subject, _seal(acme, subject, f"{n}-{i}", text), text))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sealer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    start.wait()
    rotation_run(org_id=acme.id, rotation_id=rotation.pk, batch=5)
    for thread in threads:
        thread.join()
    rotation = rotation_run(org_id=acme.id, rotation_id=rotation.pk, batch=5)  # finishes what was locked, if any
    assert not errors and len(results) == 123
    assert rotation.status == RotationStatus.COMPLETED
    with scope.org_scope(acme.id):
        assert set(SubjectKey.objects.values_list("kek_version", flat=True)) == {2}
        assert SubjectKey.objects.count() == 120 + 60 + 1
        # keys created while it ran were wrapped with the new version from the start; the old ones re-wrapped
        assert SubjectKey.objects.filter(rewrapped_at__isnull=True).count() == 60 + 1
        assert SubjectKey.objects.filter(subject_token__startswith="vt_old", rewrapped_at__isnull=False).count() == 120
    data_keys.clear()
    assert all(unseal(actor=JOB, org_id=acme.id, sealed=sealed, purpose="decision.replay") == text
               for _subject, sealed, text in results)


@pytest.mark.django_db
def test_the_keystore_holds_an_active_and_a_standby_key(keystore):
    assert key_provider().versions() == [1, 2] and key_provider().active_version() == 1
    assert add_key_version(keystore) == 3
    assert key_provider().versions() == [1, 2, 3] and key_provider().active_version() == 1
