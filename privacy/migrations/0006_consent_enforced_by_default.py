"""Consent is enforced by default: an org without privacy settings is in ``deny`` mode (ADR 0016).

Orgs that already exist keep deciding as they did before the check was switched on: each gets a saved
row in ``monitor`` mode (decide, note the missing consent on the record), audited on its chain, until
its privacy officer chooses ``deny`` or ``refuse``. Orgs created after this migration have no row and
are enforced. Idempotent: an org that already saved settings is left alone.
"""

from django.db import connection, migrations
from django.utils import timezone

LABEL = "system:migration.consent_default"


def keep_existing_orgs_deciding(apps, schema_editor):
    from dos.audit import audit_record
    from dos.authz import system_actor
    from dos.scope import org_scope

    Org = apps.get_model("tenancy", "Org")
    PrivacySettings = apps.get_model("privacy", "PrivacySettings")
    with connection.cursor() as cur:  # every org
        cur.execute("SELECT set_config('dos.platform', 'on', true)")
    saved = set(PrivacySettings.objects.values_list("org_id", flat=True))
    pending = list(Org.objects.exclude(id__in=saved).values_list("id", flat=True))
    actor = system_actor("migration.consent_default")
    for org_id in pending:
        with org_scope(org_id):
            PrivacySettings.objects.create(org_id=org_id, consent_mode="monitor", lawful_bases={},
                                           updated_at=timezone.now(), updated_by=LABEL)
            audit_record(org_id=org_id, action="privacy_settings.saved", actor=actor,
                         target=f"privacy_settings:{org_id}",
                         data={"changed": {"consent_mode": "monitor"},
                               "reason": "org existed before consent was enforced by default"})
    if pending:
        print(f"\n  {len(pending)} existing org(s) kept in consent mode 'monitor'; new orgs are enforced ('deny')")


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0005_retention_rule_changes"),
        ("tenancy", "0009_privacy_roles"),
    ]

    operations = [migrations.RunPython(keep_existing_orgs_deciding, migrations.RunPython.noop, elidable=False)]
