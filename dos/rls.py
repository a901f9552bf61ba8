"""Row-level security from migrations, and the fail-closed ORM layer above it.

``EnableRLS(model_name)`` is a migration operation: ENABLE + FORCE row level security and one
policy for USING and WITH CHECK. The settings are read through scalar sub-selects, so PostgreSQL
evaluates them once per statement (an InitPlan) instead of once per row.

``TenantModel`` is the abstract base of every tenant-owned model: an ``org`` FK (column ``org_id``)
and a default manager that raises ``ScopeError`` when no scope is active — a clear error for
developers, while RLS remains the backstop that raw SQL cannot bypass.

RLS decides which rows are visible, but it does not tell a sharded database (Citus) which node holds
them: a policy comparing ``org_id`` with a setting still fans out to every shard. So every tenant
query also *states* its org (docs/scale.md, "Routing"):

* ``OrgPin`` — each tenant queryset carries ``<table>.org_id = <current org>`` in its WHERE clause.
  The condition is part of the query from construction but renders at compile time, from the scope
  active then: a queryset built at import (a view's ``queryset``) and evaluated inside a request is
  pinned to the request's org; outside an org scope (platform jobs, pre-scope authentication) it
  renders nothing. Updates, deletes, counts, ``exists()`` and subqueries compile the same WHERE
  clause, so they carry it too.
* ``dos.citus.TenantForeignKey`` — a foreign key between two tenant tables adds ``a.org_id = b.org_id`` to
  the ON clause of every join it makes (select_related, filters across relations), so a join never
  leaves the org's shard group.
"""

from __future__ import annotations

from django.core.exceptions import FullResultSet
from django.db import models
from django.db.migrations.operations.base import Operation
from django.db.models.expressions import Col
from django.db.models.sql import Query
from django.db.models.sql.where import AND

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


def org_field_name(model) -> str:
    """The field naming a row's org: ``org`` on tenant models, the primary key on the org itself."""
    return getattr(model, "ORG_FIELD", "org")


def pinned_org_id():
    """The org every tenant statement is pinned to now: the org scope's, or None (no scope, or
    platform scope — whose statements may read every org and say so in the audit chain)."""
    current = scope.current()
    if current is None or current.platform:
        return None
    return current.org_id


class OrgPin(models.Expression):
    """``<alias>.org_id = <the org scoped when the statement is compiled>`` (see the module doc)."""

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, col):
        super().__init__()
        self.col = col

    def get_source_expressions(self):
        return [self.col]

    def set_source_expressions(self, exprs):
        [self.col] = exprs

    def as_sql(self, compiler, connection):
        org_id = pinned_org_id()
        if org_id is None:
            raise FullResultSet  # no condition: the WHERE clause drops it
        sql, params = compiler.compile(self.col)
        return f"{sql} = %s", (*params, self.col.target.get_db_prep_value(org_id, connection))


class OrgPinnedQuery(Query):
    """A tenant model's SQL query, born with its ``OrgPin``. Pinning the query (not the queryset)
    also covers the subqueries Django builds from it by itself, such as ``exclude()`` across a
    relation; clones, updates and deletes copy the WHERE clause and keep the pin."""

    def __init__(self, model, *args, **kwargs):
        super().__init__(model, *args, **kwargs)
        field = model._meta.get_field(org_field_name(model))
        self.where.add(OrgPin(Col(self.get_initial_alias(), field)), AND)


class OrgPinnedQuerySet(models.QuerySet):
    """A queryset whose WHERE clause names the scoped org (``OrgPin``); no scope, no condition."""

    def __init__(self, model=None, query=None, using=None, hints=None):
        if query is None and model is not None:
            query = OrgPinnedQuery(model)
        super().__init__(model=model, query=query, using=using, hints=hints)

    def across_orgs(self):
        """The same queryset without the org pin, for the few reads that span a person's orgs
        (their memberships, read under the policy's member clause); RLS still decides the rows.
        Each use is a statement that visits every shard: docs/scale.md lists them."""
        clone = self._chain()
        clone.query.where.children = [c for c in clone.query.where.children if not isinstance(c, OrgPin)]
        return clone


class OrgPinnedManager(models.Manager.from_queryset(OrgPinnedQuerySet)):
    """Base manager of tenant models: pinned like the default one, but usable before a scope exists
    (authentication) and by Django's own row fetches (``case.queue``, ``refresh_from_db``, ``save``)."""

    def deconstruct(self):
        # Migration state records a plain manager: the pin is a runtime concern with no schema.
        return False, "django.db.models.manager.Manager", None, (), {}


class TenantQuerySet(OrgPinnedQuerySet):
    """Refuses to hit the database without a scope. Building a queryset is fine (class attributes
    such as a view's ``queryset``); evaluating or writing through it is not. Pinned to the scoped
    org like ``OrgPinnedQuerySet``."""

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


def _pinned_base_manager(sender, **kwargs) -> None:
    """Make ``unscoped_objects`` the base manager of every tenant model. The abstract Meta below says
    so, but a model declaring its own ``Meta`` does not inherit it, and Django's fallback base manager
    (used for ``case.queue``, ``save()`` and ``refresh_from_db()``) would then not be pinned. Meta
    options as written (and so the migrations) are untouched. A model whose default manager comes
    from a third-party base (the guardian grant table) keeps Django's, as its migration state
    records its managers."""
    if (issubclass(sender, TenantModel) and not sender._meta.abstract and not sender._meta.base_manager_name
            and isinstance(sender._default_manager, TenantManager)):
        sender._meta.base_manager_name = "unscoped_objects"
        sender._meta.__dict__.pop("base_manager", None)


models.signals.class_prepared.connect(_pinned_base_manager)


class TenantModel(models.Model):
    org = models.ForeignKey("tenancy.Org", on_delete=models.PROTECT, related_name="+", db_index=False)

    objects = TenantManager()
    # Escape hatch for code that must run before a scope exists (authentication). RLS still
    # filters every row it reads; only the ORM's early error is skipped. Pinned like ``objects``.
    unscoped_objects = OrgPinnedManager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped_objects"
