"""The migration that moves version-1 sealed values onto vault v2: case-note originals sealed with
the per-org key derived from DOS_VAULT_KEY are migrated and then read back through v2 (four eyes)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dos import scope
from dos.vault import is_v1, legacy_v1
from hitl.choices import CaseSource
from hitl.models import CaseNote
from hitl.notes import PURPOSE, note_reveal, note_reveal_request
from hitl.services import case_open
from privacy.models import SubjectKey
from tenancy.approvals import approval_grant
from tests.dos.test_migrate_with_data import run, scratch  # noqa: F401 - the scratch database fixture
from tests.factories import as_member, default_project

pytestmark = pytest.mark.django_db
BEFORE, RESEAL = ("hitl", "0007_case_numbers_per_org"), ("hitl", "0008_reseal_notes_vault_v2")


def _v1_note(org, text: str) -> CaseNote:
    """A redacted note exactly as the version-1 vault left it."""
    with scope.org_scope(org.id):
        case = case_open(org_id=org.id, project=default_project(org), source=CaseSource.ADMIN, actor="system:test")
        return CaseNote.objects.create(org_id=org.id, case=case, author_label="user:seed", body_md="masked [PHONE]",
                                       redacted=True, sealed=legacy_v1().seal(org_id=org.id, purpose=PURPOSE,
                                                                              plaintext=text.encode()))


def _migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def test_v1_sealed_originals_are_resealed_and_read_through_vault_v2(acme, outsider, desk, bob, olivia):
    _migrate(BEFORE)
    ours = _v1_note(acme, "Called back on 010-1234-5678.")
    theirs = _v1_note(outsider, "Outsider's note 010-5555-6666.")
    _migrate(RESEAL)
    with scope.org_scope(acme.id):
        ours.refresh_from_db()
        assert not is_v1(ours.sealed) and bytes(ours.sealed).startswith(b"vs2.")
        assert SubjectKey.objects.filter(subject_token=f"case:{ours.case_id}").exists()
        approval_grant(request=note_reveal_request(note=ours, actor=as_member(acme, bob)),
                       actor=as_member(acme, olivia))
        assert note_reveal(note=ours, actor=as_member(acme, bob)) == "Called back on 010-1234-5678."
    with scope.org_scope(outsider.id):
        theirs.refresh_from_db()
        assert bytes(theirs.sealed).startswith(b"vs2.")
    first = bytes(ours.sealed)
    _migrate(BEFORE)
    _migrate(RESEAL)  # a second run leaves v2 values alone
    with scope.org_scope(acme.id):
        ours.refresh_from_db()
        assert bytes(ours.sealed) == first


@pytest.mark.django_db(transaction=True)
def test_manage_py_migrate_reseals_a_seeded_database(scratch, tmp_path):  # noqa: F811
    """The whole path on a scratch database: v1 notes stored, ``manage.py migrate``, read through v2."""
    _url, env = scratch
    env = {**env, "DOS_VAULT_KEYSTORE": str(tmp_path / "keystore.json")}
    steps = "tests.privacy.vault_migration_steps"
    seeded = run(env, "-m", steps, "seed")
    output = run(env, "manage.py", "migrate", "--no-input")
    assert "re-sealed 2 case note original(s) with vault v2" in output
    revealed = json.loads(run(env, "-m", steps, "reveal", seeded.strip().splitlines()[-1]))
    assert revealed == {
        "acme": {"format": "vs2.", "text": "Called back on 010-1234-5678.", "subject_key": True},
        "outsider": {"format": "vs2.", "text": "Outsider's note, 010-5555-6666.", "subject_key": True},
    }
