"""The month close (Asia/Seoul): close each billable org's usage period, rate its month and write
its invoice draft; issue the drafts whose review window has passed.

Each org is closed in its own transaction and its own scope, so a run that stops half-way (a crash,
a deploy) leaves every org either fully closed or untouched, and the next run — beat on the 1st, or
``dosctl billing close --period 2026-11`` — finishes the rest. Rating is pure and drafts are
recomputed whole (or left alone once issued), so running the close twice, or after a crash, ends
with the same invoices. The list of billable subscriptions is the one cross-org read (platform
scope, docs/scale.md "Cross-tenant work"); everything after it is per org.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from django.db import transaction
from django.utils import timezone

from billing import subscriptions
from billing.invoicing import invoice_draft_save, invoice_issue, invoice_void
from billing.invoicing.config import review_window
from billing.invoicing.errors import platform_finance
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.periods import month_of, next_month
from billing.rating import rate
from billing.services import period_close
from dos import scope
from dos.authz import action
from dos.errors import DomainError

log = structlog.get_logger(__name__)

BILLING_CLOSE = action("billing.close", "billing.manage")
INVOICES_ISSUE_DUE = action("invoice.issue_due", "billing.manage")


@dataclass
class CloseReport:
    month: dt.date
    orgs: int = 0
    drafts: int = 0
    already_issued: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict:
        return {"month": f"{self.month:%Y-%m}", "orgs": self.orgs, "drafts": self.drafts,
                "already_issued": self.already_issued, "failed": self.failed, "seconds": round(self.seconds, 3)}


def _billable(month: dt.date, org_ids) -> list:
    with transaction.atomic(), scope.platform_scope(reason=f"month close {month:%Y-%m}: billable subscriptions"):
        found = subscriptions.billable_subscriptions(month)
        if org_ids is not None:
            found = found.filter(org_id__in=list(org_ids))
        return list(found.order_by("org_id"))


def billable_org_chunks(month: dt.date, *, size: int = 100) -> list[list[str]]:
    """The billable orgs of ``month`` in chunks of ``size``: the beat job hands each chunk to a billing
    worker (``month_close(org_ids=chunk)``), so the close runs on every worker at once."""
    ids = sorted({str(sub.org_id) for sub in _billable(month, None)})
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def org_month_close(*, subscription, month: dt.date, actor, now: dt.datetime) -> Invoice:
    """One org's close, in the caller's transaction and org scope: usage period closed, month rated,
    draft written (or left alone when already issued)."""
    period_close(org_id=subscription.org_id, month=month, now=now)
    rating = rate(subscriptions.rating_input(subscription, month))
    profile = subscriptions.billing_profile(subscription.org_id)
    return invoice_draft_save(
        org_id=subscription.org_id, period_start=month, period_end=next_month(month) - dt.timedelta(days=1),
        rating=rating, customer=profile.as_customer(), actor=actor, subscription_ref=str(subscription.pk),
        review_until=now + review_window())


def month_close(*, month: dt.date, actor, now: dt.datetime | None = None, org_ids=None,
                progress: Callable[[int, int], None] | None = None) -> CloseReport:
    """Close ``month`` for every billable org (or the ``org_ids`` given). An org that fails — a refusal
    or any other error — is rolled back, logged with its traceback, reported in ``failed`` and
    skipped; the others are closed. ``progress(done, total)`` is called after each org."""
    actor = platform_finance(actor, BILLING_CLOSE)
    now = now or timezone.now()
    month = month.replace(day=1)
    if month_of(now) <= month:
        raise DomainError(f"{month:%Y-%m} has not ended yet in Asia/Seoul; only past months are closed.",
                          code="period_open", status=409)
    started = time.perf_counter()
    subs = _billable(month, org_ids)
    report = CloseReport(month=month, orgs=len(subs))
    for done, subscription in enumerate(subs, start=1):
        try:
            with transaction.atomic(), scope.org_scope(subscription.org_id):
                invoice = org_month_close(subscription=subscription, month=month, actor=actor, now=now)
            if invoice.status == InvoiceStatus.DRAFT:
                report.drafts += 1
            else:
                report.already_issued += 1
        except Exception as exc:  # noqa: BLE001 — one org's failure, whatever it is, never stops the others
            report.failed[str(subscription.org_id)] = _failure(exc)
            _log_failure("billing.close.org_failed", exc, org_id=str(subscription.org_id), month=f"{month:%Y-%m}")
        if progress is not None:
            progress(done, len(subs))
    report.seconds = time.perf_counter() - started
    log.info("billing.close.done", **report.as_dict())
    return report


@dataclass
class IssueReport:
    """What ``invoices_issue_due`` did: the numbers issued and, per draft left in the review queue,
    why (``{invoice id: reason}``)."""

    issued: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict:
        return {"issued": self.issued, "failed": self.failed}


def _failure(exc: BaseException) -> str:
    """How a failed org is named in a report: a refusal by its message, anything else by its type too
    (the traceback is in the log)."""
    return str(exc) if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"[:500]


def _log_failure(event: str, exc: BaseException, **data) -> None:
    if isinstance(exc, DomainError):  # a refusal the review queue explains; the traceback helps anyway
        log.warning(event, error=str(exc), code=exc.code, exc_info=exc, **data)
    else:
        log.error(event, error=f"{type(exc).__name__}: {exc}", exc_info=exc, **data)


def invoices_issue_due(*, actor, now: dt.datetime | None = None) -> IssueReport:
    """Issue every draft whose review window has passed, one org at a time. A draft that cannot be
    issued, for whatever reason, stays in the review queue, is logged and reported; the others are
    issued."""
    actor = platform_finance(actor, INVOICES_ISSUE_DUE)
    now = now or timezone.now()
    with transaction.atomic(), scope.platform_scope(reason="issue invoices whose review window passed"):
        due = list(Invoice.objects.filter(status=InvoiceStatus.DRAFT, kind=InvoiceKind.PERIOD, review_until__lte=now)
                   .order_by("org_id", "period_start").values_list("org_id", "pk"))
    report = IssueReport()
    for org_id, pk in due:
        try:
            with transaction.atomic(), scope.org_scope(org_id):
                invoice = Invoice.objects.get(pk=pk)
                report.issued.append(invoice_issue(invoice=invoice, actor=actor, now=now).number)
        except Exception as exc:  # noqa: BLE001 — left as a draft for a person to look at in the review queue
            report.failed[str(pk)] = _failure(exc)
            _log_failure("billing.issue_due.refused", exc, org_id=str(org_id), invoice=str(pk))
    log.info("billing.issue_due.done", issued=len(report.issued), failed=len(report.failed))
    return report


def invoice_void_and_redraft(*, invoice: Invoice, actor, reason: str,
                             now: dt.datetime | None = None) -> tuple[Invoice, Invoice | None]:
    """Void an issued invoice and, for a monthly one, draft its month again at once: the replacement
    is rated afresh (with the credit and coupon periods the void gave back) and waits in the review
    queue for its window. Returns (the void invoice, the replacement draft or None).

    The void is its own transaction and stands whatever happens next; when the month cannot be
    drafted now (the org is no longer billable, or rating fails — logged), the next close of the
    month drafts it."""
    now = now or timezone.now()
    with transaction.atomic(), scope.org_scope(invoice.org_id):
        voided = invoice_void(invoice=invoice, actor=actor, reason=reason, now=now)
    if voided.kind != InvoiceKind.PERIOD:
        return voided, None
    month = voided.period_start
    try:
        subs = _billable(month, [voided.org_id])
        if not subs:
            return voided, None
        with transaction.atomic(), scope.org_scope(voided.org_id):
            draft = org_month_close(subscription=subs[0], month=month, actor=actor, now=now)
    except Exception as exc:  # noqa: BLE001 — the void stands; the next close drafts the month
        _log_failure("billing.void.redraft_failed", exc, org_id=str(voided.org_id), month=f"{month:%Y-%m}")
        return voided, None
    return voided, draft
