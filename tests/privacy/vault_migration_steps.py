"""Steps of tests/privacy/test_vault_migration.py run in their own process against a scratch database
(DATABASE_URL): ``seed`` migrates everything but the re-sealing migration and stores redacted case
notes whose originals the version-1 vault sealed; ``reveal`` opens them through vault v2.
Prints JSON on stdout."""

from __future__ import annotations

import json
import sys
import uuid

import django

BEFORE_RESEAL = ("hitl", "0007_case_numbers_per_org")
TEXTS = {"acme": "Called back on 010-1234-5678.", "outsider": "Outsider's note, 010-5555-6666."}


def seed() -> dict:
    from django.db import connection, transaction
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    targets = [BEFORE_RESEAL if app == "hitl" else (app, name) for app, name in executor.loader.graph.leaf_nodes()]
    executor.migrate(targets)

    from dos import scope
    from dos.vault import legacy_v1
    from hitl.models import CaseNote
    from hitl.services import case_open
    from tenancy import services
    from tenancy.models import Project

    notes = {}
    for slug, text in TEXTS.items():
        org = services.org_create(name=slug.title(), slug=slug, actor="system:seed")
        with transaction.atomic(), scope.org_scope(org.id):
            case = case_open(org_id=org.id, project=Project.objects.get(slug="default"), source="api",
                             actor="system:seed")
            note = CaseNote.objects.create(org_id=org.id, case=case, author_label="user:seed", body_md="[PHONE]",
                                           redacted=True, sealed=legacy_v1().seal(org_id=org.id, purpose="hitl.case_note",
                                                                                  plaintext=text.encode()))
        notes[slug] = {"org": str(org.id), "note": note.pk, "case": str(case.id)}
    return notes


def reveal(seeded: dict) -> dict:
    from django.db import transaction

    from dos import scope
    from dos.authz import system_actor
    from dos.vault import vault
    from hitl.models import CaseNote
    from privacy.models import SubjectKey

    out = {}
    for slug, ids in seeded.items():
        with transaction.atomic(), scope.org_scope(uuid.UUID(ids["org"])):
            note = CaseNote.objects.get(pk=ids["note"])
            sealed = bytes(note.sealed)
            out[slug] = {
                "format": sealed[:4].decode(),
                "text": vault().unseal(actor=system_actor("test"), org_id=note.org_id, sealed=sealed,
                                       purpose="hitl.case_note").decode(),
                "subject_key": SubjectKey.objects.filter(subject_token=f"case:{ids['case']}").exists(),
            }
    return out


if __name__ == "__main__":
    django.setup()
    if sys.argv[1] == "seed":
        print(json.dumps(seed()))
    elif sys.argv[1] == "reveal":
        print(json.dumps(reveal(json.loads(sys.argv[2]))))
