"""Figures of the privacy back office index: the DSAR queue by deadline, retention runs waiting for a
second person, active legal holds — each a link into its page."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, F, Q
from django.utils import timezone

from privacy.models import DsarRequest, RetentionRun, RunStatus
from privacy.models.dsar import OPEN_STATES


def dsar_counts(now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    return DsarRequest.objects.aggregate(
        open=Count("id", filter=Q(state__in=OPEN_STATES)),
        overdue=Count("id", filter=Q(state__in=OPEN_STATES, due_at__lt=now)),
        due_soon=Count("id", filter=Q(state__in=OPEN_STATES, warned_at__isnull=False, due_at__gte=now)),
        to_verify=Count("id", filter=Q(state__in=["intake", "verify"], verified_at__isnull=True)),
        to_approve=Count("id", filter=Q(state="fulfil", kind="erasure", approval__status="pending")),
        done_30d=Count("id", filter=Q(state="done", completed_at__gte=now - dt.timedelta(days=30))),
        late_30d=Count("id", filter=Q(state="done", completed_at__gte=now - dt.timedelta(days=30),
                                      completed_at__gt=F("due_at"))),
    )


def overview_context(*, now: dt.datetime) -> dict:
    from privacy.holds import active_holds

    return {
        "dsar": dsar_counts(now),
        "runs_waiting": list(RetentionRun.objects.filter(status=RunStatus.PROPOSED).order_by("-created_at")[:5]),
        "runs_recent": list(RetentionRun.objects.exclude(status=RunStatus.PROPOSED).order_by("-created_at")[:5]),
        "holds": list(active_holds(at=now).order_by("-starts_at")[:20]),
        "next_due": list(DsarRequest.objects.filter(state__in=OPEN_STATES).order_by("due_at")[:10]),
    }
