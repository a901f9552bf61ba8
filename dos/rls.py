"""Row-level security from migrations, and the fail-closed ORM layer above it.

``EnableRLS(model_name)`` is a migration operation: ENABLE + FORCE row level security and one
policy for USING and WITH CHECK. The settings are read through scalar sub-selects, so PostgreSQL
evaluates them once per statement (an InitPlan) instead of once per row.

``TenantModel`` is the abstract base of every tenant-owned model: an ``org`` FK (column ``org_id``)
and a default manager that raises ``ScopeError`` when no scope is active — a clear error for
developers, while RLS remains the backstop that raw SQL cannot bypass.
"""

from __future__ import annotations

from django.db import models
from django.db.migrations.operations.base import Operation

from dos import scope

ORG_PREDICATE = (
    "{column} = (SELECT NULLIF(current_setting('dos.org_id', true), '')::uuid) "
    "OR (SELECT current_setting('dos.platform', true) = 'on')"
)


def policy_sql(table: str, column: str = "org_id", extra_using: str = "") -> list[str]:
    using = ORG_PREDICATE.format(column=column)
    read = f"({using}){' OR (' + extra_using + ')' if extra_using else ''}"
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"',
        f'CREATE POLICY tenant_isolation ON "{table}" USING ({read}) WITH CHECK ({using})',
    ]


class EnableRLS(Operation):
    """Enable and force RLS on a model's table with the tenant policy.

    ``extra_using`` widens only what may be *read* (never written), for the narrow pre-scope
    lookups: a user's own memberships, an API key by its presented prefix.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, column: str = "org_id", extra_using: str = ""):
        self.model_name = model_name
        self.column = column
        self.extra_using = extra_using

    def deconstruct(self):
        kwargs = {"model_name": self.model_name}
        if self.column != "org_id":
            kwargs["column"] = self.column
        if self.extra_using:
            kwargs["extra_using"] = self.extra_using
        return self.__class__.__name__, [], kwargs

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        for sql in policy_sql(model._meta.db_table, self.column, self.extra_using):
            schema_editor.execute(sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        table = model._meta.db_table
        schema_editor.execute(f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"')
        schema_editor.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
        schema_editor.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')

    def describe(self):
        return f"Enable row-level security on {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"rls_{self.model_name.lower()}"


def _require_scope(model) -> None:
    if scope.current() is None:
        raise scope.ScopeError(
            f"{model._meta.label} is tenant-owned: query it inside dos.scope.org_scope() "
            "(API views, admin and tasks set it for you)."
        )


class TenantQuerySet(models.QuerySet):
    """Refuses to hit the database without a scope. Building a queryset is fine (class attributes
    such as a view's ``queryset``); evaluating or writing through it is not."""

    def _fetch_all(self):
        if self._result_cache is None:
            _require_scope(self.model)
        super()._fetch_all()

    def count(self):
        _require_scope(self.model)
        return super().count()

    def exists(self):
        _require_scope(self.model)
        return super().exists()

    def aggregate(self, *args, **kwargs):
        _require_scope(self.model)
        return super().aggregate(*args, **kwargs)

    def iterator(self, *args, **kwargs):
        _require_scope(self.model)
        return super().iterator(*args, **kwargs)

    def update(self, **kwargs):
        _require_scope(self.model)
        return super().update(**kwargs)

    def delete(self):
        _require_scope(self.model)
        return super().delete()


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Default manager of tenant models (fails closed without a scope; see TenantQuerySet)."""


class TenantModel(models.Model):
    org = models.ForeignKey("tenancy.Org", on_delete=models.PROTECT, related_name="+", db_index=False)

    objects = TenantManager()
    # Escape hatch for code that must run before a scope exists (authentication). RLS still
    # filters every row it reads; only the ORM's early error is skipped.
    unscoped_objects = models.Manager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped_objects"
