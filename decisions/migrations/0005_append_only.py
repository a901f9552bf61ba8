"""Decision records never change; a policy version's source is frozen once submitted (SPEC §13)."""

from django.db import migrations

from dos.append_only import POLICYVERSION_FUNCTION, frozen_table

VERSION_TRIGGER = """
CREATE TRIGGER policyversion_frozen_once_submitted BEFORE UPDATE OR DELETE ON decisions_policyversion
    FOR EACH ROW EXECUTE FUNCTION dos_policyversion_frozen_once_submitted();
"""

DROP_VERSION_TRIGGER = """
DROP TRIGGER IF EXISTS policyversion_frozen_once_submitted ON decisions_policyversion;
DROP FUNCTION IF EXISTS dos_policyversion_frozen_once_submitted();
"""


class Migration(migrations.Migration):
    dependencies = [("decisions", "0004_reason_codes"), ("dos", "0005_append_only")]

    operations = [
        *frozen_table("decisions_decisionrecord"),
        # Versions keep UPDATE (status moves on; drafts are edited): the trigger guards the source.
        migrations.RunSQL(POLICYVERSION_FUNCTION + VERSION_TRIGGER, reverse_sql=DROP_VERSION_TRIGGER),
    ]
