"""Case numbers count per org (dos.counters) instead of from the global ``hitl_case_number_seq``.

Existing cases keep their numbers; each org's counter starts at its highest case number, so the next
case of an org gets the next number after it. Reading the cases and writing the counters crosses
orgs, so this runs in platform scope (both tables have forced RLS)."""

from django.db import migrations, models

SEED_COUNTERS = """
SELECT set_config('dos.platform', 'on', true);
INSERT INTO dos_orgcounter (org_id, name, value)
SELECT org_id, 'hitl.case', max(number) FROM hitl_case GROUP BY org_id
ON CONFLICT (org_id, name) DO UPDATE SET value = GREATEST(dos_orgcounter.value, EXCLUDED.value);
SELECT set_config('dos.platform', '', true);
DROP SEQUENCE IF EXISTS hitl_case_number_seq;
"""

# Back to one sequence: it continues after the highest number of any org.
RESTORE_SEQUENCE = """
CREATE SEQUENCE IF NOT EXISTS hitl_case_number_seq;
SELECT set_config('dos.platform', 'on', true);
SELECT setval('hitl_case_number_seq', GREATEST((SELECT max(number) FROM hitl_case), 1),
              (SELECT max(number) FROM hitl_case) IS NOT NULL);
DELETE FROM dos_orgcounter WHERE name = 'hitl.case';
SELECT set_config('dos.platform', '', true);
"""


class Migration(migrations.Migration):
    dependencies = [("hitl", "0006_tenant_primary_keys"), ("dos", "0007_org_counter")]

    operations = [
        migrations.AlterField(
            model_name="case",
            name="number",
            field=models.BigIntegerField(editable=False, help_text="Human-friendly case number, counted per org."),
        ),
        migrations.RunSQL(SEED_COUNTERS, reverse_sql=RESTORE_SEQUENCE),
    ]
