"""`dosctl scale plan`: every table placed exactly once, tenant tables distributed by org_id, and a
shared model nobody declared stops the plan with a message that says what to do."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models
from django.test.utils import isolate_apps

from dos.rls import TenantModel
from dos.scale import COLOCATION_ANCHOR, LOCAL_TABLES, REFERENCE_TABLES, PlanError, distribution_plan


def plan_sql() -> str:
    out = StringIO()
    call_command("scale", "plan", stdout=out)
    return out.getvalue()


def placed(sql: str) -> list[str]:
    """Every table the printed plan places, once per mention (statements and ``-- local:`` lines)."""
    return (re.findall(r"create_(?:reference|distributed)_table\('(\w+)'", sql)
            + re.findall(r"^-- local: (\w+)", sql, re.M))


@pytest.mark.django_db
def test_every_table_of_the_migrated_database_is_placed_exactly_once():
    with connection.cursor() as cur:
        cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')")
        tables = {name for (name,) in cur.fetchall()}
    mentions = placed(plan_sql())
    assert sorted(t for t in set(mentions) if mentions.count(t) > 1) == []
    assert set(mentions) == tables


def test_every_tenant_table_is_distributed_by_org_id_in_one_colocation_group():
    sql = plan_sql()
    tenant = {m._meta.db_table for m in apps.get_models() if issubclass(m, TenantModel)}
    distributed = dict(re.findall(r"create_distributed_table\('(\w+)', 'org_id'(.*)\);", sql))
    assert set(distributed) == tenant
    assert distributed.pop(COLOCATION_ANCHOR) == ""
    assert set(distributed.values()) == {f", colocate_with => '{COLOCATION_ANCHOR}'"}


def test_referenced_tables_come_before_the_tables_that_point_at_them():
    order = placed(plan_sql())
    for model in apps.get_models(include_auto_created=True):
        table = model._meta.db_table
        if table not in order or table in LOCAL_TABLES:
            continue
        for f in model._meta.concrete_fields:
            target = f.is_relation and f.remote_field.model._meta.db_table
            if target and target != table and target not in LOCAL_TABLES:
                assert order.index(target) < order.index(table), f"{table} → {target}"


def test_json_lists_the_same_statements_with_the_reasons():
    out = StringIO()
    call_command("scale", "plan", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["statements"] == distribution_plan().statements()
    assert {r["table"]: r["why"] for r in data["reference"]} == REFERENCE_TABLES
    assert {r["table"] for r in data["local"]} == set(LOCAL_TABLES)


@isolate_apps("dos")
def test_a_shared_model_nobody_declared_stops_the_plan_with_what_to_do():
    class Leaderboard(models.Model):
        score = models.IntegerField()

        class Meta:
            app_label = "dos"

    with pytest.raises(PlanError) as refused:
        distribution_plan([*apps.get_models(include_auto_created=True), Leaderboard])
    message = str(refused.value)
    assert "dos_leaderboard" in message and "REFERENCE_TABLES" in message and "LOCAL_TABLES" in message


def test_a_tenant_table_declared_as_shared_is_refused(monkeypatch):
    monkeypatch.setitem(REFERENCE_TABLES, "hitl_case", "by mistake")
    with pytest.raises(PlanError, match="hitl_case"):
        distribution_plan()


def test_the_command_fails_with_the_plan_error(monkeypatch):
    monkeypatch.delitem(REFERENCE_TABLES, "tenancy_platformrole")
    with pytest.raises(CommandError, match="tenancy_platformrole: no org_id column and not declared"):
        plan_sql()
