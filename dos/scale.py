"""The distribution plan for a sharded PostgreSQL (Citus), derived from the model registry.

``dosctl scale plan`` prints it. Nothing in it is written by hand except which tables without
``org_id`` are *reference* tables (replicated to every node) and which are *local* ones (left on the
coordinator) — ``REFERENCE_TABLES`` and ``LOCAL_TABLES``; every table with an ``org_id`` column is
distributed by it, all in one colocation group, so a new tenant model cannot be forgotten and a
new shared one fails the plan until it is declared (docs/scale.md, "Distribution plan").

``tenancy_org`` is a reference table, not the distributed anchor: its slug is unique across orgs
(sign-in and URLs find an org by it), and a distributed table can only enforce uniqueness that
includes its distribution column. The colocation group is anchored on ``COLOCATION_ANCHOR``.

Order matters to Citus: a foreign key may point from a distributed or local table at a reference
table, or between colocated distributed tables, so referenced tables come first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models

from dos.citus import LOCAL_TABLES, REFERENCE_TABLES, TENANT_COLUMN  # the schema rules own the declarations

COLOCATION_ANCHOR = "tenancy_project"


class PlanError(ValueError):
    """The registry and the declarations disagree; the message says what to declare where."""


@dataclass
class Plan:
    reference: list[str] = field(default_factory=list)
    distributed: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)

    def statements(self) -> list[str]:
        sql = [f"SELECT create_reference_table('{table}');" for table in self.reference]
        for table in self.distributed:
            colocate = "" if table == COLOCATION_ANCHOR else f", colocate_with => '{COLOCATION_ANCHOR}'"
            sql.append(f"SELECT create_distributed_table('{table}', '{TENANT_COLUMN}'{colocate});")
        return sql

    def as_dict(self) -> dict:
        return {
            "reference": [{"table": t, "why": REFERENCE_TABLES[t]} for t in self.reference],
            "distributed": [{"table": t, "column": TENANT_COLUMN,
                             "colocate_with": None if t == COLOCATION_ANCHOR else COLOCATION_ANCHOR}
                            for t in self.distributed],
            "local": [{"table": t, "why": LOCAL_TABLES[t]} for t in self.local],
            "statements": self.statements(),
        }

    def as_sql(self) -> str:
        lines = ["-- DecisionOS distribution plan (Citus), generated from the model registry by `dosctl scale plan`.",
                 "-- Reference tables: replicated to every node.",
                 *(f"SELECT create_reference_table('{t}');  -- {REFERENCE_TABLES[t]}" for t in self.reference),
                 f"-- Tenant tables: distributed by {TENANT_COLUMN}, one colocation group anchored on "
                 f"{COLOCATION_ANCHOR}.",
                 *self.statements()[len(self.reference):],
                 "-- Local tables: stay on the coordinator (no statement; their foreign keys to reference tables",
                 "-- need citus.enable_local_reference_table_foreign_keys, on by default).",
                 *(f"-- local: {t}  -- {LOCAL_TABLES[t]}" for t in self.local)]
        return "\n".join(lines)


def _tables(model_list: Iterable[type[models.Model]]) -> dict[str, type[models.Model]]:
    return {m._meta.db_table: m for m in model_list if m._meta.managed and not m._meta.proxy}


def _references(model) -> set[str]:
    return {f.remote_field.model._meta.db_table for f in model._meta.concrete_fields if f.is_relation}


def _dependency_order(tables: Iterable[str], depends: dict[str, set[str]], first: str | None = None) -> list[str]:
    """``tables`` with every table after the ones it references (ties by name; ``first`` leads)."""
    pending, done, order = set(tables), set(), []
    if first in pending:
        pending.discard(first)
        done.add(first)
        order.append(first)
    while pending:
        ready = sorted(t for t in pending if not (depends.get(t, set()) - {t}) & pending)
        if not ready:
            raise PlanError(f"Foreign keys form a cycle between {sorted(pending)}: break it before distributing.")
        for table in ready:
            pending.discard(table)
            done.add(table)
            order.append(table)
    return order


def distribution_plan(model_list: Iterable[type[models.Model]] | None = None) -> Plan:
    """Every table of the registry (plus the declared tables no model owns, such as
    ``django_migrations``) placed exactly once, or ``PlanError`` naming what is undeclared."""
    by_table = _tables(apps.get_models(include_auto_created=True) if model_list is None else model_list)
    tenant = {t for t, m in by_table.items() if any(f.column == TENANT_COLUMN for f in m._meta.concrete_fields)}
    both = set(REFERENCE_TABLES) & set(LOCAL_TABLES)
    if both:
        raise PlanError(f"Declared both reference and local: {sorted(both)}.")
    declared_tenant = tenant & (set(REFERENCE_TABLES) | set(LOCAL_TABLES))
    if declared_tenant:
        raise PlanError(f"{sorted(declared_tenant)} have an {TENANT_COLUMN} column: they are distributed by it; "
                        "remove them from REFERENCE_TABLES/LOCAL_TABLES.")
    undeclared = sorted(set(by_table) - tenant - set(REFERENCE_TABLES) - set(LOCAL_TABLES))
    if undeclared:
        raise PlanError(
            f"{', '.join(undeclared)}: no {TENANT_COLUMN} column and not declared. A tenant table needs an "
            f"{TENANT_COLUMN} column (dos.rls.TenantModel); a shared one is added to REFERENCE_TABLES "
            "(replicated, may be joined with tenant data) or LOCAL_TABLES (coordinator only) with the reason.")
    depends = {t: _references(m) for t, m in by_table.items()}
    _check_foreign_keys(depends, tenant)
    if COLOCATION_ANCHOR not in tenant and tenant:
        raise PlanError(f"The colocation anchor {COLOCATION_ANCHOR} is not a tenant table.")
    return Plan(
        reference=_dependency_order(REFERENCE_TABLES, depends),
        distributed=_dependency_order(tenant, depends, first=COLOCATION_ANCHOR),
        local=sorted(LOCAL_TABLES),
    )


def _check_foreign_keys(depends: dict[str, set[str]], tenant: set[str]) -> None:
    """The foreign keys Citus cannot keep: reference → distributed or local, and anything between a
    distributed and a local table."""
    for table, targets in depends.items():
        for target in targets - {table}:
            if table in REFERENCE_TABLES and target not in REFERENCE_TABLES:
                raise PlanError(f"Reference table {table} points at {target}, which is not a reference table.")
            if (table in tenant and target in LOCAL_TABLES) or (table in LOCAL_TABLES and target in tenant):
                raise PlanError(f"{table} → {target} joins a tenant table with a local one: make the local one a "
                                "reference table.")
