"""Deadline warnings: once per request, however often (and however concurrently) the sweep runs.

The warning is claimed by a conditional UPDATE (``warned_at IS NULL``) in the same transaction as its
timeline entry, audit entry and outbox event (``dsar.deadline_warning``): the first sweep to reach
a due request sets it; any other finds it set.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from dos.audit import audit_record
from dos.outbox import outbox_emit
from privacy.dsar.services import SYSTEM, event
from privacy.models import DsarRequest
from privacy.models.dsar import OPEN_STATES


def dsar_deadline_sweep(*, now: dt.datetime | None = None) -> int:
    """Warn about open requests of the current org scope whose warning moment has come."""
    now = now or timezone.now()
    warned = 0
    due = DsarRequest.objects.filter(state__in=OPEN_STATES, warned_at__isnull=True, warn_at__lte=now)
    for request in due.order_by("due_at")[:500]:
        if not DsarRequest.objects.filter(id=request.id, warned_at__isnull=True).update(warned_at=now):
            continue  # another sweep warned first
        left = request.due_at - now
        event(request, "deadline_warning", SYSTEM,
              {"due_at": request.due_at.isoformat(), "hours_left": max(int(left.total_seconds() // 3600), 0)}, at=now)
        audit_record(org_id=request.org_id, action="dsar.deadline_warning", actor=SYSTEM,
                     target=f"dsar:{request.id}", data={"due_at": request.due_at.isoformat()})
        # For the org's own systems (a webhook, the officers' mail): once, with the warning.
        outbox_emit(org_id=request.org_id, topic="dsar.deadline_warning", key=f"dsar:{request.id}",
                    payload={"reference": request.reference, "kind": request.kind, "state": request.state,
                             "due_at": request.due_at.isoformat()})
        warned += 1
    return warned
