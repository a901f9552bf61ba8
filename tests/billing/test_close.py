"""The month close: usage period closed, every billable org rated and drafted, drafts issued after
the review window; idempotent, and the same after a crash half-way."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from billing import tasks
from billing.accounts import billing_account_update
from billing.close import invoices_issue_due, month_close
from billing.models import Invoice, InvoiceStatus, UsageMonthly
from billing.rating import rate
from billing.seats import seats_set
from billing.subscriptions import rating_input, subscription_for, subscription_start
from dos import scope
from dos.errors import DomainError
from tests.billing.invoicing_support import NOVEMBER, finance_person, launch_price_book
from tests.factories import make_org

pytestmark = pytest.mark.django_db
CLOSE_AT = dt.datetime(2026, 11, 30, 15, 45, tzinfo=dt.UTC)  # 1 December, 00:45 in Seoul
CLOSER = "system:billing.close"


def _customer(org, *, calls: int, agents: int, plan: str = "pov", brn: str = "2208162517"):
    fiona = finance_person(f"fiona.{org.slug}@decisionos.example")
    with transaction.atomic(), scope.org_scope(org.id):
        subscription_start(org_id=org.id, plan_code=plan, actor=fiona, today=dt.date(2026, 10, 1))
        seats_set(org_id=org.id, role="agent", quantity=agents, since=dt.date(2026, 10, 1), actor=fiona,
                  reason="contract")
        billing_account_update(org_id=org.id, actor=fiona, changes={
            "legal_name": f"{org.name} 주식회사", "registration_number": brn, "contact_name": "김민준"})
        if calls:
            UsageMonthly.objects.create(org_id=org.id, metric="decision_calls", month=NOVEMBER, value=calls,
                                        events=calls)
    return org


@pytest.fixture
def customers(db):
    launch_price_book()
    return [_customer(make_org("Acme Lending", slug="acme-close"), calls=12_345, agents=7),
            _customer(make_org("Beta Credit", slug="beta-close"), calls=0, agents=5, brn="1208147521"),
            _customer(make_org("Gamma Capital", slug="gamma-close"), calls=2_000_000, agents=12, brn="1078155843")]


def snapshot() -> list[tuple]:
    with transaction.atomic(), scope.platform_scope(reason="test"):
        return [(str(i.org_id), str(i.pk), i.status, i.subtotal, i.tax, i.total,
                 tuple(i.lines.order_by("position").values_list("code", "quantity", "amount")))
                for i in Invoice.objects.order_by("org_id")]


def test_a_pov_month_of_12345_decides_and_7_agents_is_invoiced_to_the_won(customers):
    report = month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT)
    assert report.ok and (report.orgs, report.drafts) == (3, 3)
    acme = customers[0]
    with scope.org_scope(acme.id):
        invoice = Invoice.objects.get()
        amounts = dict(invoice.lines.values_list("code", "amount"))
    # ₩300,000 + 12,345 × ₩20 + 2 extra agents × ₩10,000 = ₩566,900; VAT ₩56,690.
    assert amounts["plan:pov"] == 300_000 and amounts["usage:decision_calls"] == 246_900
    assert (invoice.subtotal, invoice.tax, invoice.total) == (566_900, 56_690, 623_590)
    assert invoice.customer["registration_number"] == "220-81-62517" and invoice.customer["contact_surname"] == "김"
    assert invoice.review_until == CLOSE_AT + dt.timedelta(hours=72) and invoice.period_end == dt.date(2026, 11, 30)


def test_it_closes_the_usage_period_it_invoices(customers):
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT)
    with scope.org_scope(customers[0].id):
        assert UsageMonthly.objects.get(month=NOVEMBER).closed_at == CLOSE_AT


def test_closing_twice_yields_the_same_invoices(customers):
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT)
    first = snapshot()
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT + dt.timedelta(hours=1))
    assert snapshot() == first and len(first) == 3


class Crash(BaseException):
    """The worker dies between two orgs (not an error the close could catch)."""


def test_a_close_that_crashed_half_way_finishes_with_the_same_invoices(customers):
    def die_after_first(done, total):
        if done == 1:
            raise Crash

    with pytest.raises(Crash):
        month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT, progress=die_after_first)
    assert len(snapshot()) == 1  # the first org is closed, the others untouched
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT)
    after_crash = snapshot()
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT)
    assert snapshot() == after_crash and len(after_crash) == 3
    for org in customers:  # and each is exactly what rating the month gives
        with transaction.atomic(), scope.org_scope(org.id):
            rated = rate(rating_input(subscription_for(org.id), NOVEMBER))
            assert Invoice.objects.get().subtotal == rated.subtotal


def test_drafts_are_issued_after_the_review_window_and_a_later_close_leaves_them(customers):
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT)
    assert invoices_issue_due(actor="system:billing.issue", now=CLOSE_AT + dt.timedelta(hours=71)).issued == []
    numbers = invoices_issue_due(actor="system:billing.issue", now=CLOSE_AT + dt.timedelta(hours=72)).issued
    assert sorted(numbers) == ["DOS-2026-000001", "DOS-2026-000002", "DOS-2026-000003"]
    issued = snapshot()
    with scope.org_scope(customers[0].id):  # the month's usage changes after the invoice was issued
        UsageMonthly.objects.filter(month=NOVEMBER).update(value=20_000)
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT + dt.timedelta(days=5))
    assert snapshot() == issued and {row[2] for row in issued} == {InvoiceStatus.ISSUED}


def test_it_refuses_a_month_that_has_not_ended(customers):
    with pytest.raises(DomainError, match="not ended"):
        month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT - dt.timedelta(minutes=46))


def test_the_beat_job_does_nothing_but_on_the_first(customers, monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: CLOSE_AT - dt.timedelta(days=1))
    assert tasks.month_close() == {}


@pytest.mark.django_db(transaction=True)
def test_on_the_first_the_beat_job_hands_the_orgs_to_the_billing_workers(celery_worker, customers, monkeypatch):
    from celery.result import AsyncResult
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: CLOSE_AT)
    started = tasks.month_close()
    assert (started["month"], started["orgs"], len(started["tasks"])) == ("2026-11", 3, 1)
    assert [AsyncResult(t).get(timeout=60)["drafts"] for t in started["tasks"]] == [3]
    first = snapshot()
    backfill = tasks.month_close(period="2026-11")  # a backfill of the same month changes nothing
    assert [AsyncResult(t).get(timeout=60)["drafts"] for t in backfill["tasks"]] == [3]
    assert snapshot() == first
