"""Recorded facts are append-only in the database (SPEC §8, §13): triggers and privileges.

Two layers, both created by migrations:

* triggers refuse UPDATE and DELETE for every role, the table owner included (only a DBA who
  disables the trigger gets past, and ``dosctl audit verify`` then finds the change);
* the application role loses UPDATE, DELETE and TRUNCATE on those tables (``REVOKE``), keeping
  column-level UPDATE only where a row is legitimately advanced (the chain head).

Meter events are the one table with a door: past 90 days they leave through the retention purge,
a function run as the table owner that billing's migration 0012 grants the app role (``grant_execute_sql``).

Tables that are not wholly frozen get a narrower trigger: a chain head may only move forward, to an
entry that exists with that hash; a policy version's ``source`` and ``sha256`` are frozen (and the
row cannot be deleted) once it has left ``draft``.

``APP_ROLE`` is the role web, workers and beat connect as (docker/initdb and the devstack create
``dos_app``); where that role does not exist the REVOKE is skipped and the triggers still hold.
"""

from __future__ import annotations

import os

from django.db import migrations

APP_ROLE = os.environ.get("DOS_APP_DB_ROLE", "dos_app")

# Every refusal uses SQLSTATE 42501 (insufficient_privilege) and says "append-only", so callers and
# tests can tell it from other errors.
REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION dos_refuse_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'append-only: % on % is refused (hash-chained rows never change)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

CHAINHEAD_FUNCTIONS = """
CREATE OR REPLACE FUNCTION dos_chainhead_advance_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'append-only: DELETE on dos_chainhead is refused (a chain head is never removed)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - '{seq,hash,updated_at}'::text[]) IS DISTINCT FROM (to_jsonb(OLD) - '{seq,hash,updated_at}'::text[])
    THEN
        RAISE EXCEPTION 'append-only: a chain head keeps its org and chain; only seq, hash and updated_at advance'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.seq < OLD.seq OR (NEW.seq = OLD.seq AND NEW.hash IS DISTINCT FROM OLD.hash) THEN
        RAISE EXCEPTION 'append-only: chain head %/% may only advance (seq % -> %)', OLD.chain, OLD.org_id, OLD.seq, NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

-- Checked at COMMIT: by then the entry the head points to must exist with exactly that hash
-- (ledger_append moves the head and inserts the entry in one statement; ledger_append_many inserts
-- first and moves the head last). The tenant scope may be gone by COMMIT, so the lookup runs with
-- the platform flag on, restored right after.
CREATE OR REPLACE FUNCTION dos_chainhead_points_at_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    saved text := current_setting('dos.platform', true);
    found boolean;
BEGIN
    IF NEW.seq = 0 THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('dos.platform', 'on', true);
    SELECT EXISTS (
        SELECT 1 FROM dos_ledgerentry e
         WHERE e.org_id = NEW.org_id AND e.chain = NEW.chain AND e.seq = NEW.seq AND e.hash = NEW.hash
    ) INTO found;
    PERFORM set_config('dos.platform', coalesce(saved, ''), true);
    IF NOT found THEN
        RAISE EXCEPTION 'append-only: chain head %/% points at seq % with a hash no entry has', NEW.chain, NEW.org_id, NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$;
"""

POLICYVERSION_FUNCTION = """
CREATE OR REPLACE FUNCTION dos_policyversion_frozen_once_submitted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'draft' THEN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'append-only: a submitted policy version (%) cannot be deleted', OLD.status
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.source IS DISTINCT FROM OLD.source OR NEW.sha256 IS DISTINCT FROM OLD.sha256
           OR NEW.status = 'draft' THEN
            RAISE EXCEPTION 'append-only: source and sha256 of a submitted policy version never change'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;
"""


def _revoke(table: str, update_columns: tuple[str, ...] = ()) -> str:
    """REVOKE UPDATE/DELETE/TRUNCATE from the app role (and PUBLIC); re-grant UPDATE on the named
    columns only. A DO block, so a database without the role migrates too."""
    cols = ", ".join(update_columns)
    regrant = f"EXECUTE format('GRANT UPDATE ({cols}) ON {table} TO %I', app);" if update_columns else ""
    return f"""
DO $do$
DECLARE app text := '{APP_ROLE}';
BEGIN
    REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = app) AND app <> current_user THEN
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM %I', app);
        {regrant}
    END IF;
END
$do$;
"""


def grant_execute_sql(signature: str) -> str:
    """Let only the app role run the function ``signature`` (e.g. ``f(uuid, bigint[])``): the door a
    migration opens into an append-only table, run as its owner (SECURITY DEFINER)."""
    return f"""
REVOKE ALL ON FUNCTION {signature} FROM PUBLIC;
DO $do$
DECLARE app text := '{APP_ROLE}';
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = app) AND app <> current_user THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION {signature} TO %I', app);
    END IF;
END
$do$;
"""


def _regrant(table: str) -> str:
    return f"""
DO $do$
DECLARE app text := '{APP_ROLE}';
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = app) AND app <> current_user THEN
        EXECUTE format('GRANT UPDATE, DELETE ON {table} TO %I', app);
    END IF;
END
$do$;
"""


def frozen_table(table: str) -> list[migrations.RunSQL]:
    """Operations that make ``table`` append-only: every UPDATE and DELETE refused."""
    trigger = f"{table}_append_only"
    return [
        migrations.RunSQL(REFUSE_FUNCTION, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(
            f"CREATE TRIGGER {trigger} BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION dos_refuse_mutation();",
            reverse_sql=f"DROP TRIGGER IF EXISTS {trigger} ON {table};"),
        migrations.RunSQL(_revoke(table), reverse_sql=_regrant(table)),
    ]


def revoke_mutations(table: str, update_columns: tuple[str, ...] = ()) -> migrations.RunSQL:
    return migrations.RunSQL(_revoke(table, update_columns), reverse_sql=_regrant(table))


def app_role_sql(table: str, update_columns: tuple[str, ...] = ()) -> str:
    """The privilege statements a migration runs for ``table`` (exposed for the tests)."""
    return _revoke(table, update_columns)


# Every table whose rows are recorded facts, with the columns the app role may still UPDATE. The
# migrations revoke the rest; a tool that re-grants privileges wholesale re-applies these after.
PROTECTED_TABLES: dict[str, tuple[str, ...]] = {
    "dos_ledgerentry": (), "dos_chainanchor": (), "dos_chainhead": ("seq", "hash", "updated_at"),
    "decisions_decisionrecord": (), "hitl_caseevent": (), "billing_meterevent": (),
    "privacy_consent": (), "privacy_consentevent": (), "privacy_dsarstep": (), "privacy_dsarevent": (),
    "billing_journal": (), "billing_journalline": (),
}


def protected_tables_sql() -> str:
    """The REVOKEs of every protected table that exists (a fresh database has none yet)."""
    return "".join(
        f"DO $x$ BEGIN IF to_regclass('{table}') IS NOT NULL THEN EXECUTE $s${_revoke(table, columns)}$s$; "
        f"END IF; END $x$;\n" for table, columns in PROTECTED_TABLES.items())
