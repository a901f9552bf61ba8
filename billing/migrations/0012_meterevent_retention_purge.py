"""Meter events leave the database after their retention period — through one door (ADR 0017).

Meter events stay append-only for the application role (no UPDATE, DELETE or TRUNCATE privilege;
every UPDATE refused by the trigger). The one exception is the retention purge: the function
``billing_meterevent_purge(org, ids)`` runs as the table owner (SECURITY DEFINER, fixed search path,
RLS still forced: it sees the caller's org only), deletes the named events of that org that are older
than ``PURGE_FLOOR`` (90 days, beyond ``USAGE_MAX_LATENESS_DAYS``: no event that old can be metered
again, and every month it belongs to was invoiced long ago) — except events a usage adjustment
points at (the evidence of a late correction stays with it) — and returns how many it removed. The
trigger lets a DELETE through only inside that function (a transaction-local flag set by it, the table
owner as the current user, and the age floor) — anything else is refused as before. Both functions
pin their search path (pg_catalog first, temporary objects last) and name tables with their schema.

The flag is an ordinary setting: a session connected as the table owner (a DBA, a migration) could
set it and delete events past the floor directly — the owner can disable the trigger anyway, so the
trust boundary stays where it was (docs/decisions/0017). The application role cannot: it has no
DELETE privilege on the table, only EXECUTE on the purge function.
"""

from django.db import migrations

from dos.append_only import grant_execute_sql

PURGE_FLOOR = "90 days"

GUARD = f"""
CREATE OR REPLACE FUNCTION billing_meterevent_guard() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND pg_catalog.current_setting('dos.meter_purge', true) = 'on'
       AND current_user = (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c
                            WHERE c.oid = TG_RELID)
       AND OLD.ts < now() - interval '{PURGE_FLOOR}' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'append-only: % on % is refused (meter events leave only through the retention purge, '
                    'after {PURGE_FLOOR})', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER IF EXISTS billing_meterevent_append_only ON billing_meterevent;
CREATE TRIGGER billing_meterevent_append_only BEFORE UPDATE OR DELETE ON billing_meterevent
    FOR EACH ROW EXECUTE FUNCTION billing_meterevent_guard();

CREATE OR REPLACE FUNCTION billing_meterevent_purge(p_org uuid, p_ids bigint[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    removed integer;
BEGIN
    IF p_org IS NULL OR p_org::text IS DISTINCT FROM current_setting('dos.org_id', true) THEN
        RAISE EXCEPTION 'billing_meterevent_purge: the org must be the scope''s org'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('dos.meter_purge', 'on', true);
    DELETE FROM public.billing_meterevent e
     WHERE e.org_id = p_org AND e.id = ANY(p_ids) AND e.ts < now() - interval '{PURGE_FLOOR}'
       AND NOT EXISTS (SELECT 1 FROM public.billing_usageadjustment a WHERE a.org_id = p_org AND a.event_id = e.id);
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('dos.meter_purge', '', true);
    RETURN removed;
END;
$$;

"""


BACK = """
DROP FUNCTION IF EXISTS billing_meterevent_purge(uuid, bigint[]);
DROP TRIGGER IF EXISTS billing_meterevent_append_only ON billing_meterevent;
CREATE TRIGGER billing_meterevent_append_only BEFORE UPDATE OR DELETE ON billing_meterevent
    FOR EACH ROW EXECUTE FUNCTION dos_refuse_mutation();
DROP FUNCTION IF EXISTS billing_meterevent_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0011_invoice_month_again_after_void")]

    operations = [migrations.RunSQL(GUARD + grant_execute_sql("billing_meterevent_purge(uuid, bigint[])"),
                                    reverse_sql=BACK)]
