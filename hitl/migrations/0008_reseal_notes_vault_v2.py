"""Case-note originals sealed by the version-1 vault (a per-org key derived from DOS_VAULT_KEY) are
opened with that key and sealed again by vault v2 under their subject's data key (ADR 0015).

Idempotent: a value already in the v2 format is left alone, so a re-run after an interruption
continues where it stopped. DOS_VAULT_KEY must still be the key the values were sealed with; remove it
only after this has run everywhere. Nothing is logged but counts.
"""

from django.db import connection, migrations

PURPOSE = "hitl.case_note"


def _subject(note, DecisionRecord) -> str:
    if note["case__decision_id"]:
        token = (DecisionRecord.objects.filter(org_id=note["org_id"], id=note["case__decision_id"])
                 .values_list("subject_token", flat=True).first())
        if token:
            return token
    return f"case:{note['case_id']}"


def reseal(apps, schema_editor):
    from dos.authz import system_actor
    from dos.scope import org_scope
    from dos.vault import is_v1, legacy_v1, vault

    CaseNote = apps.get_model("hitl", "CaseNote")
    DecisionRecord = apps.get_model("decisions", "DecisionRecord")
    with connection.cursor() as cur:  # every org's notes
        cur.execute("SELECT set_config('dos.platform', 'on', true)")
    pending = [n for n in CaseNote.objects.filter(sealed__isnull=False)
               .values("pk", "org_id", "case_id", "case__decision_id", "sealed") if is_v1(n["sealed"])]
    old, actor = legacy_v1(), system_actor("migration.vault_v2")
    for note in pending:
        with org_scope(note["org_id"]):
            plaintext = old.unseal(org_id=note["org_id"], purpose=PURPOSE, sealed=bytes(note["sealed"]))
            sealed = vault().seal(actor=actor, org_id=note["org_id"], subject_token=_subject(note, DecisionRecord),
                                  table="hitl_casenote", row=str(note["pk"]), field="body_md", plaintext=plaintext)
            CaseNote.objects.filter(org_id=note["org_id"], pk=note["pk"]).update(sealed=sealed.encode())
    if pending:
        print(f"\n  re-sealed {len(pending)} case note original(s) with vault v2")


class Migration(migrations.Migration):
    dependencies = [
        ("hitl", "0007_case_numbers_per_org"),
        ("privacy", "0003_vault"),
    ]

    operations = [migrations.RunPython(reseal, migrations.RunPython.noop, elidable=False)]
