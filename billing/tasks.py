"""Thin beat jobs for metering: each finds the orgs in a named platform scope (audited), then works
in each org's own scope and transaction.

Both are safe to deliver again after their worker was killed (acks_late): a rollup commits one org
at a time and the org's cursor is its checkpoint, so the redelivered run finds the orgs already done
with nothing past their cursor and rebuilds only the org it was killed in, whose transaction left
nothing behind; a reconciliation rewrites its report rows and raises an alert once per drift."""

from __future__ import annotations

import datetime as dt

import structlog
from celery import shared_task
from django.utils import timezone

from billing.periods import seoul_day
from billing.reconcile import usage_reconcile
from billing.rollups import usage_rollup
from dos.tasks import for_each_org

log = structlog.get_logger(__name__)


ORGS_WITH_EVENTS = "SELECT DISTINCT org_id FROM billing_meterevent"


@shared_task(name="billing.tasks.usage_rollup_all", ignore_result=True)
def usage_rollup_all() -> int:
    return len(for_each_org(job="usage (rollup: orgs with meter events)", sql=ORGS_WITH_EVENTS,
                            work=lambda org_id: usage_rollup(org_id=org_id)))


@shared_task(name="billing.tasks.usage_reconcile_daily", ignore_result=True)
def usage_reconcile_daily(day: str | None = None) -> int:
    target = dt.date.fromisoformat(day) if day else seoul_day(timezone.now()) - dt.timedelta(days=1)
    return sum(for_each_org(job="usage (reconcile: orgs with meter events)", sql=ORGS_WITH_EVENTS,
                            work=lambda org_id: sum(1 for r in usage_reconcile(org_id=org_id, day=target) if r.alert)))


@shared_task(name="billing.tasks.month_close", ignore_result=True)
def month_close(period: str | None = None) -> dict:
    """Beat runs it daily; on the 1st (Asia/Seoul) it closes the month that just ended. A period
    (``2026-11``) closes that month whatever the day (backfill). The billable orgs are handed out in
    chunks to the billing workers (``month_close_orgs``), so the close uses every worker at once."""
    from billing.close import billable_org_chunks
    from billing.periods import month_of

    now = timezone.now()
    if period is None:
        if seoul_day(now).day != 1:
            return {}
        period = f"{month_of(now - dt.timedelta(days=1)):%Y-%m}"
    chunks = billable_org_chunks(dt.date.fromisoformat(f"{period}-01"))
    tasks = [month_close_orgs.delay(period, chunk).id for chunk in chunks]
    return {"month": period, "orgs": sum(len(c) for c in chunks), "tasks": tasks}


@shared_task(name="billing.tasks.month_close_orgs", acks_late=True)
def month_close_orgs(period: str, org_ids: list[str]) -> dict:
    """Close ``period`` for these orgs, one transaction each: a redelivered chunk (its worker was
    killed) finishes the orgs the killed run did not reach and leaves the others as they are."""
    from billing.close import month_close as close

    month = dt.date.fromisoformat(f"{period}-01")
    return close(month=month, actor="system:billing.close", org_ids=org_ids).as_dict()


@shared_task(name="billing.tasks.invoices_issue_due", ignore_result=True, acks_late=True)
def invoices_issue_due() -> int:
    """Issue the drafts whose review window has passed (hourly)."""
    from billing.close import invoices_issue_due as issue_due

    return len(issue_due(actor="system:billing.issue").issued)


@shared_task(name="billing.tasks.invoice_drift_daily", ignore_result=True, acks_late=True)
def invoice_drift_daily(month: str | None = None) -> dict:
    """Usage ↔ invoice drift of last month (Asia/Seoul), or of ``month`` (``2026-11``); daily, so
    invoices issued after their review window and late usage are covered. Alerts once per drift."""
    from billing.drift import invoice_drift_run, previous_month

    target = dt.date.fromisoformat(f"{month}-01") if month else previous_month(seoul_day(timezone.now()))
    return invoice_drift_run(month=target, actor="system:billing.invoice_drift")


ORGS_WITH_LIVE_SUBSCRIPTIONS = "SELECT DISTINCT org_id FROM billing_subscription WHERE status <> 'cancelled'"


@shared_task(name="billing.tasks.subscriptions_daily", ignore_result=True, acks_late=True)
def subscriptions_daily(day: str | None = None) -> int:
    """The day's subscription work, per org in its own scope: trials that ended become active,
    period-end cancellations and scheduled plan changes take effect, and today's seat levels are
    recorded from memberships. Every org whatever its status (a frozen org is still billed and its
    cancellation still takes effect). Every step is idempotent: a redelivered run changes nothing more."""
    from billing.seats import seats_sync
    from billing.subscriptions import subscription_for, subscription_roll
    from dos.authz import system_actor

    actor = system_actor("billing.subscriptions_daily")
    now = timezone.now()
    today = dt.date.fromisoformat(day) if day else seoul_day(now)

    def work(org_id) -> int:
        subscription = subscription_for(org_id)
        changes = len(subscription_roll(subscription=subscription, today=today, actor=actor)) if subscription else 0
        if subscription_for(org_id) is not None:
            changes += len(seats_sync(org_id=org_id, actor=actor, now=now))
        return changes

    return sum(for_each_org(job="subscriptions (daily: orgs with a live subscription)",
                            sql=ORGS_WITH_LIVE_SUBSCRIPTIONS, work=work, every_status=True))
