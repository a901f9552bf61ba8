"""Usage rollups: hourly (UTC) → daily and monthly (Asia/Seoul), rebuilt from raw events.

A run takes the events past the org's cursor, finds the hour buckets they touch, and recomputes
those buckets *from all raw events* (upsert), then the days and months those hours belong to. It
runs in one transaction, so a run that fails half-way leaves nothing behind, and running it again —
or twice — gives the same totals: recomputation is idempotent. A worker killed mid-run is the same
case: its connection drops, PostgreSQL rolls the transaction back, and the redelivered task restarts
the org from the cursor (restart, not resume: one org's run is one statement per level, and a
partial one has nothing worth keeping). Two deliveries of the same run queue on the cursor's row
lock; the second finds the cursor moved and recomputes the same buckets to the same values.

The cursor only advances past events that have settled (ingested more than
USAGE_ROLLUP_SETTLE_SECONDS ago): an event whose transaction committed after a higher id had
already been rolled up is therefore still ahead of the cursor next time. Events marked
``late_adjusted`` belong to a closed period and are billed as adjustments, never rolled up.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.meters import PURGE_FLOOR_DAYS
from billing.models import RollupCursor

_HOURLY = """
WITH affected AS (
    SELECT DISTINCT metric, project_id, date_trunc('hour', ts) AS hour
      FROM billing_meterevent
     WHERE org_id = %(org)s AND id > %(after)s AND late_status <> 'late_adjusted'
), sums AS (
    SELECT a.metric, a.project_id, a.hour, sum(e.value) AS value, count(*) AS events
      FROM affected a
      JOIN billing_meterevent e
        ON e.org_id = %(org)s AND e.metric = a.metric AND e.project_id IS NOT DISTINCT FROM a.project_id
       AND e.ts >= a.hour AND e.ts < a.hour + interval '1 hour' AND e.late_status <> 'late_adjusted'
     GROUP BY a.metric, a.project_id, a.hour
)
INSERT INTO billing_usagehourly (org_id, metric, project_id, hour, value, events, updated_at)
SELECT %(org)s, metric, project_id, hour, value, events, %(now)s FROM sums
ON CONFLICT ON CONSTRAINT usagehourly_bucket_uniq
DO UPDATE SET value = EXCLUDED.value, events = EXCLUDED.events, updated_at = EXCLUDED.updated_at
RETURNING metric, project_id, (hour AT TIME ZONE 'Asia/Seoul')::date
"""

_DAILY = """
WITH affected AS (
    SELECT * FROM unnest(%(metrics)s::text[], %(projects)s::uuid[], %(days)s::date[]) AS a(metric, project_id, day)
), sums AS (
    SELECT a.metric, a.project_id, a.day, sum(h.value) AS value, sum(h.events) AS events
      FROM affected a
      JOIN billing_usagehourly h
        ON h.org_id = %(org)s AND h.metric = a.metric AND h.project_id IS NOT DISTINCT FROM a.project_id
       AND (h.hour AT TIME ZONE 'Asia/Seoul')::date = a.day
     GROUP BY a.metric, a.project_id, a.day
)
INSERT INTO billing_usagedaily (org_id, metric, project_id, day, value, events, updated_at)
SELECT %(org)s, metric, project_id, day, value, events, %(now)s FROM sums
ON CONFLICT ON CONSTRAINT usagedaily_bucket_uniq
DO UPDATE SET value = EXCLUDED.value, events = EXCLUDED.events, updated_at = EXCLUDED.updated_at
RETURNING metric, project_id, date_trunc('month', day)::date
"""

_MONTHLY = """
WITH affected AS (
    SELECT * FROM unnest(%(metrics)s::text[], %(projects)s::uuid[], %(months)s::date[]) AS a(metric, project_id, month)
), sums AS (
    SELECT a.metric, a.project_id, a.month, sum(d.value) AS value, sum(d.events) AS events
      FROM affected a
      JOIN billing_usagedaily d
        ON d.org_id = %(org)s AND d.metric = a.metric AND d.project_id IS NOT DISTINCT FROM a.project_id
       AND date_trunc('month', d.day)::date = a.month
     GROUP BY a.metric, a.project_id, a.month
)
INSERT INTO billing_usagemonthly (org_id, metric, project_id, month, value, events, updated_at)
SELECT %(org)s, metric, project_id, month, value, events, %(now)s FROM sums
ON CONFLICT ON CONSTRAINT usagemonthly_bucket_uniq
DO UPDATE SET value = EXCLUDED.value, events = EXCLUDED.events, updated_at = EXCLUDED.updated_at
WHERE billing_usagemonthly.closed_at IS NULL
"""


@dataclass(frozen=True)
class RollupResult:
    org_id: str
    events_after: int
    cursor: int
    hours: int
    days: int
    months: int
    since: dt.datetime | None = None  # a backfill: the moment it rebuilt from (after the purge clamp)


def _keys(rows) -> tuple[list, list, list]:
    unique = sorted(set(rows), key=lambda r: (r[0], str(r[1]), r[2]))
    return [r[0] for r in unique], [r[1] for r in unique], [r[2] for r in unique]


def usage_rollup(*, org_id, now: dt.datetime | None = None, settle_seconds: int | None = None,
                 _fail_after: str | None = None) -> RollupResult:
    """Bring one org's rollups up to date (run inside that org's scope)."""
    now = now or timezone.now()
    settle = settings.USAGE_ROLLUP_SETTLE_SECONDS if settle_seconds is None else settle_seconds
    with transaction.atomic():
        cursor, _ = RollupCursor.objects.select_for_update().get_or_create(org_id=org_id)
        after = cursor.last_event_id
        with connection.cursor() as cur:
            cur.execute(_HOURLY, {"org": org_id, "after": after, "now": now})
            day_rows = cur.fetchall()
            if _fail_after == "hourly":
                raise RuntimeError("injected failure after the hourly step")
            metrics, projects, days = _keys(day_rows)
            month_rows = []
            if metrics:
                cur.execute(_DAILY, {"org": org_id, "metrics": metrics, "projects": projects, "days": days, "now": now})
                month_rows = cur.fetchall()
            if _fail_after == "daily":
                raise RuntimeError("injected failure after the daily step")
            m_metrics, m_projects, months = _keys(month_rows)
            if m_metrics:
                cur.execute(_MONTHLY, {"org": org_id, "metrics": m_metrics, "projects": m_projects, "months": months,
                                       "now": now})
            # Advance to just below the first event that has not settled yet.
            cur.execute(
                "SELECT min(id) FILTER (WHERE ingested_at > %(cut)s), max(id) FROM billing_meterevent "
                "WHERE org_id = %(org)s AND id > %(after)s",
                {"org": org_id, "after": after, "cut": now - dt.timedelta(seconds=settle)},
            )
            unsettled, newest = cur.fetchone()
        new_cursor = (unsettled - 1) if unsettled else (newest or after)
        cursor.last_event_id = max(after, new_cursor)
        cursor.updated_at = now
        cursor.save(update_fields=["last_event_id", "updated_at"])
    return RollupResult(org_id=str(org_id), events_after=after, cursor=cursor.last_event_id, hours=len(day_rows),
                        days=len(month_rows), months=len(months))


def usage_rollup_backfill(*, org_id, since: dt.datetime, now: dt.datetime | None = None) -> RollupResult:
    """Rebuild every bucket touched by events since ``since`` (dosctl usage rollup --since) — at most
    the hours of the last ``PURGE_FLOOR_DAYS - 1`` days: older hours may have lost events to the
    retention purge, and their buckets keep the totals counted while the events were there."""
    since = max(since, (now or timezone.now()) - dt.timedelta(days=PURGE_FLOOR_DAYS - 1))
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT min(id) FROM billing_meterevent WHERE org_id = %s AND ts >= %s", [org_id, since])
            first = cur.fetchone()[0]
        if first is not None:
            cursor, _ = RollupCursor.objects.select_for_update().get_or_create(org_id=org_id)
            cursor.last_event_id = min(cursor.last_event_id, first - 1)
            cursor.save(update_fields=["last_event_id"])
        return dataclasses.replace(usage_rollup(org_id=org_id, now=now, settle_seconds=0), since=since)
