"""Every tenant statement on the hot paths names its org (docs/scale.md, "Routing").

Row-level security keeps orgs apart, but a sharded database routes a statement to one node only
when the statement itself says ``org_id = …``: a policy on a setting fans out to every shard. These
tests capture the SQL of /decide, /decide/batch, the decision list and detail, the review inbox
(API and admin), the usage API, the invoice and credit-note API, issuing and the month close, and
fail on any statement that reads a tenant table without an org predicate (tests/dos/org_predicates.py
says what counts).
"""

from __future__ import annotations

import contextlib

import pytest
from django.apps import apps
from django.db import connection

from decisions.models import DecisionRecord
from dos import scope
from dos.citus import TenantForeignKey
from dos.rls import TenantModel, org_field_name
from hitl.models import Case, Task
from tenancy.models import Org
from tests.conftest import api_client
from tests.decisions.test_decide_api import BASE, decide
from tests.dos.org_predicates import unpinned
from tests.factories import make_key, verified_client

pytestmark = pytest.mark.django_db

# Statements that cannot name an org, because they are how the org is found. Each is a lookup by
# a unique value (an index probe per shard, not a scan) and is listed in docs/scale.md.
ORG_DISCOVERY = (
    # API-key authentication: the presented prefix is all there is until the key row is read.
    "FROM tenancy_apikey WHERE prefix = %s",
    # The admin session: a person's memberships across their orgs (the org picker).
    'FROM "tenancy_membership" INNER JOIN "tenancy_org" ON ("tenancy_membership"."org_id" = "tenancy_org"."id") '
    'WHERE "tenancy_membership"."user_id" = %s',
)


def org_columns() -> dict[str, str]:
    tenant = [m for m in apps.get_models() if issubclass(m, TenantModel) or m is Org]
    return {m._meta.db_table: m._meta.get_field(org_field_name(m)).column for m in tenant}


@contextlib.contextmanager
def statements_run():
    """The SQL text of every statement sent on the connection inside the block (placeholders kept)."""
    captured: list[str] = []

    def record(execute, sql, params, many, context):
        captured.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield captured


def assert_routed(captured: list[str]) -> None:
    columns = org_columns()
    problems = [(problems, sql) for sql in captured
                if not any(known in sql for known in ORG_DISCOVERY) and (problems := unpinned(sql, columns))]
    assert not problems, "Tenant tables read without an org predicate:\n\n" + "\n\n".join(
        f"{', '.join(p)}\n  in: {sql}" for p, sql in problems)


@pytest.fixture
def lender(acme, lending, desk):
    return api_client(make_key(acme, scopes=["decisions.run", "decisions.read", "hitl.review", "usage.read"],
                               name="lender"))


# The checker itself


def test_it_flags_a_tenant_table_read_without_an_org_predicate():
    columns = org_columns()
    assert unpinned('SELECT "hitl_case"."id" FROM "hitl_case" WHERE "hitl_case"."number" = %s', columns) == [
        "hitl_case hitl_case"]
    assert unpinned("SELECT count(*) FROM hitl_case c WHERE c.status = %s", columns) == ["hitl_case c"]
    assert unpinned('UPDATE "hitl_case" SET "status" = %s WHERE "hitl_case"."id" = %s', columns) == [
        "hitl_case hitl_case"]
    assert unpinned('DELETE FROM "hitl_task" WHERE "hitl_task"."case_id" IN (%s)', columns) == [
        "hitl_task hitl_task"]


def test_it_flags_a_join_that_does_not_match_the_org():
    columns = org_columns()
    sql = ('SELECT 1 FROM "hitl_case" INNER JOIN "hitl_queue" ON ("hitl_case"."queue_id" = "hitl_queue"."id") '
           'WHERE "hitl_case"."org_id" = %s')
    assert unpinned(sql, columns) == ["hitl_queue hitl_queue"]
    joined = sql.replace('"hitl_queue"."id")', '"hitl_queue"."id" AND "hitl_queue"."org_id" = "hitl_case"."org_id")')
    assert unpinned(joined, columns) == []
    # A join on org_id between two tables neither of which is pinned ties nothing down.
    assert unpinned(joined.replace('WHERE "hitl_case"."org_id" = %s', "WHERE true"), columns) == [
        "hitl_case hitl_case", "hitl_queue hitl_queue"]


def test_it_accepts_pinned_statements_and_ignores_insert_targets_and_shared_tables():
    columns = org_columns()
    assert unpinned('SELECT 1 FROM "hitl_case" WHERE ("hitl_case"."org_id" = %s AND "hitl_case"."id" = %s)',
                    columns) == []
    assert unpinned("SELECT 1 FROM hitl_case c WHERE c.org_id = %s", columns) == []
    assert unpinned("SELECT 1 FROM decisions_decisionrecord WHERE org_id = ANY(%s)", columns) == []
    assert unpinned('SELECT 1 FROM "tenancy_org" WHERE "tenancy_org"."id" = %s', columns) == []
    assert unpinned('INSERT INTO "hitl_case" ("org_id", "id") VALUES (%s, %s)', columns) == []
    assert unpinned('SELECT 1 FROM "tenancy_user" WHERE "tenancy_user"."id" = %s', columns) == []
    assert unpinned("INSERT INTO hitl_task (org_id) SELECT org_id FROM hitl_case", columns) == ["hitl_case hitl_case"]


def test_it_pins_querysets_built_before_the_scope_to_the_org_scoped_when_they_run(acme, outsider):
    built_at_import = Case.objects.filter(status="open")
    for org, other in ((acme, outsider), (outsider, acme)):
        with scope.org_scope(org.id):
            sql = str(built_at_import.query)
            assert '"hitl_case"."org_id" = ' in sql and str(org.id) in sql and str(other.id) not in sql
    with scope.platform_scope(reason="test: platform statements name no org"):
        assert "\"org_id\" = " not in str(built_at_import.query)


def test_every_foreign_key_between_tenant_tables_joins_on_org_id():
    plain = [f"{m._meta.label}.{f.name}" for m in apps.get_models() if issubclass(m, TenantModel)
             for f in m._meta.concrete_fields
             if f.is_relation and f.name != "org" and issubclass(f.remote_field.model, TenantModel)
             and not isinstance(f, TenantForeignKey)]
    assert not plain, f"Declare these as dos.citus.TenantForeignKey: {plain}"


# The hot paths


def test_decide_names_the_org_in_every_statement(lender):
    with statements_run() as captured:
        assert decide(lender, credit_score=650).json()["outcome"] == "review"  # opens a case as well
        assert decide(lender, subject="lead-2").status_code == 200
        retried = {"subject_id": "lead-3", "purpose": "loan_screening", "input": BASE}
        for _ in range(2):  # stored, then replayed
            assert lender.post("/api/v1/decide", retried, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 200
    assert_routed(captured)


def test_decide_batch_names_the_org_in_every_statement(lender):
    items = [{"subject_id": f"s{i}", "purpose": "loan_screening", "input": {**BASE, "credit_score": score}}
             for i, score in enumerate([720, 650, 500, 680])]
    with statements_run() as captured:
        assert lender.post("/api/v1/decide/batch", {"items": items}, format="json").status_code == 200
    assert_routed(captured)


def test_the_decision_list_and_detail_name_the_org(lender):
    decision_id = decide(lender, credit_score=650).json()["decision_id"]
    with statements_run() as captured:
        assert lender.get("/api/v1/decisions").status_code == 200
        assert lender.get(f"/api/v1/decisions/{decision_id}").status_code == 200
    assert_routed(captured)


def test_the_review_inbox_api_names_the_org(lender):
    case_id = decide(lender, credit_score=650).json()["case_id"]
    with statements_run() as captured:
        assert lender.get("/api/v1/hitl/cases").status_code == 200
        assert lender.get(f"/api/v1/hitl/cases/{case_id}").status_code == 200
    assert_routed(captured)


def test_the_admin_inbox_names_the_org(client, lender, acme, alice):
    decide(lender, credit_score=650)
    with scope.org_scope(acme.id):
        case = Case.objects.get()
        Case.objects.filter(pk=case.pk).update(owner=alice)
    signed_in = verified_client(client, alice)
    with statements_run() as captured:
        for url in ("/admin/hitl/case/", "/admin/hitl/case/my-work/", f"/admin/hitl/case/{case.pk}/change/",
                    "/admin/hitl/case/queues/"):
            assert signed_in.get(url, follow=True).status_code == 200, url
    assert_routed(captured)


def test_usage_names_the_org(lender):
    decide(lender)
    with statements_run() as captured:
        assert lender.get("/api/v1/usage", {"metric": "decision_calls"}).status_code == 200
    assert_routed(captured)


def test_the_ledger_anchor_job_works_one_org_at_a_time(acme, outsider, lender):
    from dos.tasks import ledger_anchor_daily

    decide(lender)
    with statements_run() as captured:
        assert ledger_anchor_daily() >= 2
    # Finding the orgs is the job's one cross-org statement (docs/scale.md, "Cross-tenant work").
    assert_routed([sql for sql in captured if "SELECT DISTINCT org_id FROM dos_chainhead" not in sql])


def test_related_fetches_updates_and_deletes_name_the_org(acme, lender):
    decide(lender, credit_score=650)
    with scope.org_scope(acme.id), statements_run() as captured:
        case = Case.objects.select_related("queue", "decision").get()
        task = Task.objects.filter(case=case).first()
        assert task.case.queue_id == case.queue_id  # forward fetch through the base manager
        assert list(case.tasks.all()) == [task]
        assert Case.objects.filter(tasks__assignee__isnull=False).exists() in (True, False)
        assert Case.objects.exclude(tasks__queue=None).count() >= 0
        assert Case.objects.exclude(tasks__assignee=case.owner_id).count() >= 0  # a trimmed subquery
        assert Case.objects.exclude(events__kind="opened").count() == 0
        DecisionRecord.objects.filter(pk=case.decision_id).values("id").first()
        Case.objects.filter(pk=case.pk).update(priority=case.priority)
        case.save(update_fields=["priority"])
        case.refresh_from_db()
    assert_routed(captured)


def test_the_invoice_and_credit_note_endpoints_name_the_org(acme):
    import datetime as dt

    from billing.credit_notes import credit_note_create
    from tests.billing.invoicing_support import ISSUED_AT, issued_for

    invoice = issued_for(acme)
    with scope.org_scope(acme.id):
        note = credit_note_create(invoice=invoice, actor="system:test", amount=1_000, reason="Outage",
                                  now=ISSUED_AT + dt.timedelta(days=1))
    finance = api_client(make_key(acme, scopes=["billing.read"], name="finance"))
    with statements_run() as captured:
        for url in ("/api/v1/invoices", f"/api/v1/invoices/{invoice.pk}", f"/api/v1/invoices/{invoice.pk}?format=pdf",
                    "/api/v1/credit-notes", f"/api/v1/credit-notes/{note.pk}"):
            assert finance.get(url).status_code == 200, url
    assert_routed(captured)


def test_issuing_an_invoice_names_the_org(acme):
    from billing.invoicing import invoice_issue
    from tests.billing.invoicing_support import ISSUED_AT, draft_for

    draft = draft_for(acme)
    with scope.org_scope(acme.id), statements_run() as captured:
        invoice_issue(invoice=draft, actor="system:test", now=ISSUED_AT)
    assert_routed(captured)


def test_the_month_close_works_one_org_at_a_time(acme):
    import datetime as dt

    from billing.close import month_close
    from tests.billing.invoicing_support import NOVEMBER, launch_price_book
    from tests.billing.test_close import _customer

    launch_price_book()
    _customer(acme, calls=12_345, agents=7)
    with statements_run() as captured:
        assert month_close(month=NOVEMBER, actor="system:test",
                           now=dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)).drafts == 1
    # Finding the billable subscriptions is the close's one cross-org statement (docs/scale.md).
    assert_routed([sql for sql in captured if '"billing_subscription"."started_on" <' not in sql])
