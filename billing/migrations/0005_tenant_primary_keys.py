"""Primary key (org_id, id) on every billing table, then the composite foreign keys
(docs/decisions/0011-citus-ready-schema.md). ``meterevent_org_id_idx`` (org_id, id) duplicated the
new primary key on the busiest insert path, so it goes."""

from django.db import migrations

from dos.citus import tenant_keys


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_tenant_foreign_keys"), ("tenancy", "0008_tenant_primary_keys")]

    operations = [
        *tenant_keys(
            "MeterEvent", "UsageHourly", "UsageDaily", "UsageMonthly", "UsageAdjustment", "RollupCursor",
            "UsageCounter", "ReconciliationReport",
            foreign_keys=(
                ("MeterEvent", "project"),
                ("UsageHourly", "project"),
                ("UsageDaily", "project"),
                ("UsageMonthly", "project"),
                ("UsageAdjustment", "event"),
            ),
        ),
        migrations.RemoveIndex(model_name="meterevent", name="meterevent_org_id_idx"),
    ]
