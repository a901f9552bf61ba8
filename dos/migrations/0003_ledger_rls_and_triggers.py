"""RLS on the core tables, and the append-only trigger on chained tables (SPEC §8)."""

from django.db import migrations

from dos.rls import EnableRLS

REFUSE = """
CREATE OR REPLACE FUNCTION dos_refuse_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'append-only: % on % is refused (hash-chained rows never change)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER ledgerentry_append_only BEFORE UPDATE OR DELETE ON dos_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION dos_refuse_mutation();
CREATE TRIGGER chainanchor_append_only BEFORE UPDATE OR DELETE ON dos_chainanchor
    FOR EACH ROW EXECUTE FUNCTION dos_refuse_mutation();
"""

UNREFUSE = """
DROP TRIGGER IF EXISTS ledgerentry_append_only ON dos_ledgerentry;
DROP TRIGGER IF EXISTS chainanchor_append_only ON dos_chainanchor;
DROP FUNCTION IF EXISTS dos_refuse_mutation();
"""


class Migration(migrations.Migration):
    dependencies = [("dos", "0002_initial"), ("tenancy", "0002_row_level_security")]

    operations = [
        EnableRLS("ChainHead"),
        EnableRLS("LedgerEntry"),
        EnableRLS("ChainAnchor"),
        EnableRLS("IdempotencyKey"),
        migrations.RunSQL(REFUSE, reverse_sql=UNREFUSE),
    ]
