"""Append-only where it matters (SPEC §8, §13): chain heads only advance, to an entry that exists;
the app role cannot UPDATE, DELETE or TRUNCATE chained rows or anchors."""

from django.db import migrations

from dos.append_only import CHAINHEAD_FUNCTIONS, revoke_mutations

HEAD_TRIGGERS = """
CREATE TRIGGER chainhead_advance_only BEFORE UPDATE OR DELETE ON dos_chainhead
    FOR EACH ROW EXECUTE FUNCTION dos_chainhead_advance_only();
CREATE CONSTRAINT TRIGGER chainhead_points_at_entry AFTER UPDATE ON dos_chainhead
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION dos_chainhead_points_at_entry();
"""

DROP_HEAD_TRIGGERS = """
DROP TRIGGER IF EXISTS chainhead_points_at_entry ON dos_chainhead;
DROP TRIGGER IF EXISTS chainhead_advance_only ON dos_chainhead;
DROP FUNCTION IF EXISTS dos_chainhead_points_at_entry();
DROP FUNCTION IF EXISTS dos_chainhead_advance_only();
"""


class Migration(migrations.Migration):
    dependencies = [("dos", "0004_outboxevent")]

    operations = [
        migrations.RunSQL(CHAINHEAD_FUNCTIONS + HEAD_TRIGGERS, reverse_sql=DROP_HEAD_TRIGGERS),
        revoke_mutations("dos_ledgerentry"),
        revoke_mutations("dos_chainanchor"),
        # The head is a mutable pointer: appends advance these three columns, nothing else.
        revoke_mutations("dos_chainhead", update_columns=("seq", "hash", "updated_at")),
    ]
