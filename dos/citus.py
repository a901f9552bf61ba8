"""The schema rules that let the tenant data be sharded by ``org_id`` (Citus) — see
docs/decisions/0011-citus-ready-schema.md.

Citus distributes a table by one column and enforces uniqueness and foreign keys only inside a
shard, so a distributed table's primary key and every unique constraint must contain that column,
and a foreign key between two distributed tables must include it on both sides. Our rules:

* every table with an ``org_id`` column is a *distributed* table: primary key ``(org_id, id)`` at the
  database level (the model keeps ``id`` as its Django primary key, so the admin, DRF routes and
  ``obj.pk`` are unchanged), every unique constraint includes ``org_id``;
* a foreign key between two tenant tables is declared as ``TenantForeignKey`` (no single-column
  constraint — one on ``id`` alone would need ``UNIQUE (id)``) and the migration adds the composite
  constraint ``(org_id, x_id) → (org_id, id)`` with ``CompositeForeignKey``; as a bonus the database
  now refuses a reference to another org's row;
* every table without ``org_id`` is named below, as a *reference* table (replicated to every node,
  small, read everywhere) or a *local* one (framework bookkeeping that stays on the coordinator).
  tests/dos/test_citus_schema.py reads the catalog after the migrations and fails on any table or
  constraint that breaks these rules.

A new tenant table therefore needs, in the migration that creates it: ``EnableRLS(name)``,
``TenantPrimaryKey(name)`` and one ``CompositeForeignKey(name, field)`` per ``TenantForeignKey``.
"""

from __future__ import annotations

from django.db import models
from django.db.migrations.operations.base import Operation
from django.db.models.expressions import Col
from django.db.models.lookups import Exact

from dos.rls import OrgPin, org_field_name

TENANT_COLUMN = "org_id"

# Replicated to every node: tables without org_id that tenant tables (or sign-in) read everywhere.
REFERENCE_TABLES: dict[str, str] = {
    "tenancy_org": "the tenants themselves: a globally unique slug (URLs, sign-in) and the parent of every "
                   "tenant row's org_id",
    "tenancy_user": "a person may work for several orgs",
    "tenancy_user_groups": "Django auth: a person's groups",
    "tenancy_user_user_permissions": "Django auth: a person's permissions",
    "tenancy_platformrole": "platform staff roles, across every org",
    "tenancy_usersession": "a person's signed-in browser sessions",
    "auth_permission": "Django's permission catalogue (object grants reference it)",
    "auth_group": "Django auth groups",
    "auth_group_permissions": "Django auth: a group's permissions",
    "django_content_type": "Django's model catalogue",
    "otp_totp_totpdevice": "a person's authenticator",
    "otp_static_staticdevice": "a person's backup-code device",
    "otp_static_statictoken": "a person's backup codes",
    "guardian_userobjectpermission": "django-guardian's generic table, unused: object grants live in "
                                     "tenancy_projectuserobjectpermission",
    "guardian_groupobjectpermission": "django-guardian's generic table, unused",
    "billing_priceplan": "the platform price book's plans, read by every org's subscription and rating (ADR 0012)",
    "billing_priceversion": "the platform price book's effective-dated price versions subscriptions pin (ADR 0012)",
    "billing_coupon": "coupons the platform offers; each org's use is the tenant table billing_couponredemption",
    "billing_documentseries": "the issuer's gapless legal invoice and credit-note series (one row per issuer, kind "
                              "and year), spanning every org: advanced under a row lock in the issuing transaction, "
                              "a few thousand times a month (ADR 0013)",
}

# Stay on the coordinator: bookkeeping of the frameworks, never joined with tenant data.
LOCAL_TABLES: dict[str, str] = {
    "django_migrations": "the migration history",
    "django_session": "session store of the admin",
    "django_admin_log": "the admin's change history (the audit chain is the record)",
    "django_celery_beat_periodictask": "beat schedule",
    "django_celery_beat_periodictasks": "beat schedule change marker",
    "django_celery_beat_crontabschedule": "beat schedule",
    "django_celery_beat_intervalschedule": "beat schedule",
    "django_celery_beat_solarschedule": "beat schedule",
    "django_celery_beat_clockedschedule": "beat schedule",
}


def keyed_by_org(model) -> bool:
    """True for a model whose table's primary key is ``(org_id, <its pk>)`` while Django's pk is the
    single column (every tenant model but those declared with a CompositePrimaryKey)."""
    return (not isinstance(model._meta.pk, models.CompositePrimaryKey)
            and any(field.column == TENANT_COLUMN for field in model._meta.concrete_fields))


class TenantForeignKey(models.ForeignKey):
    """A foreign key from one tenant model to another.

    The database constraint is the composite one a migration adds (``CompositeForeignKey``), so
    Django creates none of its own (``db_constraint`` is always False; ``on_delete`` is still applied
    by Django). Reading through the relation carries the org too — ``case.decision`` looks the
    decision up by ``(org_id, id)`` and ``select_related``/filters across the relation join on
    ``org_id`` as well as the id — which is what lets the primary key ``(org_id, id)`` serve it and
    what a sharded database needs to keep the join on one shard.
    """

    def __init__(self, *args, **kwargs):
        kwargs["db_constraint"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("db_constraint", None)
        return name, path, args, kwargs

    def get_extra_descriptor_filter(self, instance):
        # ``case.queue`` looks the queue up in the case's org, even in platform scope.
        source = self.model._meta.get_field(org_field_name(self.model))
        return {org_field_name(self.remote_field.model): getattr(instance, source.attname)}

    def get_extra_restriction(self, alias, related_alias):
        source = self.model._meta.get_field(org_field_name(self.model))
        if alias is None:
            # A subquery that dropped the join to this side (exclude() across the relation):
            # the remaining table is pinned to the scoped org instead.
            return OrgPin(Col(related_alias, source))
        target_model = self.remote_field.model
        target = target_model._meta.get_field(org_field_name(target_model))
        return Exact(Col(alias, target), Col(related_alias, source))


def _pk_sql(table: str, columns: str) -> str:
    """Swap the primary key of ``table`` for one on ``columns``, keeping the constraint's name (read
    from pg_constraint, never guessed). One statement, so it also works under ``sqlmigrate``."""
    return f"""
DO $$
DECLARE
    pk_name text;
BEGIN
    SELECT conname INTO STRICT pk_name FROM pg_constraint
     WHERE conrelid = '{table}'::regclass AND contype = 'p';
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I, ADD CONSTRAINT %I PRIMARY KEY ({columns})',
                   '{table}', pk_name, pk_name);
END
$$;"""


class TenantPrimaryKey(Operation):
    """Make a tenant table's database primary key ``(org_id, <pk>)``; the model's pk is unchanged.

    Every single-column foreign key to the table must be gone first (declare those fields as
    ``TenantForeignKey``), since it depends on the old key's index."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str):
        self.model_name = model_name

    def deconstruct(self):
        return self.__class__.__name__, [], {"model_name": self.model_name}

    def state_forwards(self, app_label, state):
        pass

    def _table_and_pk(self, app_label, state) -> tuple[str, str]:
        model = state.apps.get_model(app_label, self.model_name)
        return model._meta.db_table, model._meta.pk.column

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        table, pk = self._table_and_pk(app_label, to_state)
        schema_editor.execute(_pk_sql(table, f"{TENANT_COLUMN}, {pk}"), params=None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        table, pk = self._table_and_pk(app_label, to_state)
        schema_editor.execute(_pk_sql(table, pk), params=None)

    def describe(self):
        return f"Primary key (org_id, id) on {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"tenant_pk_{self.model_name.lower()}"


class CompositeForeignKey(Operation):
    """The database constraint of a ``TenantForeignKey``: ``FOREIGN KEY (org_id, x_id) REFERENCES
    t (org_id, id)``, deferred to COMMIT like Django's own. With a nullable field MATCH SIMPLE skips
    the check when ``x_id`` is NULL. The referenced table's ``TenantPrimaryKey`` must have run."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, name: str):
        self.model_name = model_name
        self.name = name

    def deconstruct(self):
        return self.__class__.__name__, [], {"model_name": self.model_name, "name": self.name}

    def state_forwards(self, app_label, state):
        pass

    def _parts(self, app_label, state, schema_editor) -> tuple[str, str, str, str, str]:
        model = state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        if field.db_constraint:
            raise ValueError(f"{model.__name__}.{self.name} has a single-column database constraint of its own: "
                             "declare it as dos.citus.TenantForeignKey.")
        target = field.remote_field.model._meta
        table = model._meta.db_table
        constraint = schema_editor._create_index_name(table, [TENANT_COLUMN, field.column], suffix="_tenant_fk")
        return table, constraint, field.column, target.db_table, field.target_field.column

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        table, constraint, column, target, target_column = self._parts(app_label, to_state, schema_editor)
        q = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(constraint)} "
            f"FOREIGN KEY ({TENANT_COLUMN}, {q(column)}) REFERENCES {q(target)} ({TENANT_COLUMN}, {q(target_column)}) "
            "DEFERRABLE INITIALLY DEFERRED")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        table, constraint, *_ = self._parts(app_label, from_state, schema_editor)
        q = schema_editor.quote_name
        schema_editor.execute(f"ALTER TABLE {q(table)} DROP CONSTRAINT IF EXISTS {q(constraint)}")

    def describe(self):
        return f"Composite foreign key (org_id, {self.name}) on {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"tenant_fk_{self.model_name.lower()}_{self.name}"


def tenant_keys(*model_names: str, foreign_keys: tuple[tuple[str, str], ...] = ()) -> list[Operation]:
    """All primary-key swaps first, then the composite foreign keys (which need the new keys)."""
    return [*(TenantPrimaryKey(name) for name in model_names),
            *(CompositeForeignKey(model, field) for model, field in foreign_keys)]
