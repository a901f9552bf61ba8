"""Usage reads. ``usage_series`` is exact at any moment: settled hours come from the rollups, and
any hour that has events past the rollup cursor is summed from the raw events instead."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import connection

from billing.models import RollupCursor
from billing.periods import SEOUL

GRANULARITIES = ("hour", "day", "month")


def _label(hour: dt.datetime, granularity: str) -> str:
    if granularity == "hour":
        return hour.astimezone(dt.UTC).isoformat()
    local = hour.astimezone(SEOUL)
    return local.date().isoformat() if granularity == "day" else local.strftime("%Y-%m")


def usage_series(*, org_id, metric: str, start: dt.datetime, end: dt.datetime, granularity: str = "day",
                 project_id=None) -> list[dict]:
    cursor = RollupCursor.objects.filter(org_id=org_id).values_list("last_event_id", flat=True).first() or 0
    project_sql = "AND project_id = %(project)s" if project_id else ""
    params = {"org": org_id, "metric": metric, "start": start, "end": end, "cursor": cursor, "project": project_id}
    with connection.cursor() as cur:
        cur.execute(f"""
            SELECT DISTINCT date_trunc('hour', ts) FROM billing_meterevent
             WHERE org_id = %(org)s AND metric = %(metric)s AND id > %(cursor)s AND ts >= %(start)s AND ts < %(end)s
               AND late_status <> 'late_adjusted' {project_sql}""", params)
        fresh_hours = [row[0] for row in cur.fetchall()]
        params["fresh"] = fresh_hours
        cur.execute(f"""
            SELECT hour, sum(value), sum(events) FROM billing_usagehourly
             WHERE org_id = %(org)s AND metric = %(metric)s AND hour >= date_trunc('hour', %(start)s::timestamptz)
               AND hour < %(end)s AND NOT (hour = ANY(%(fresh)s::timestamptz[])) {project_sql}
             GROUP BY hour
            UNION ALL
            SELECT date_trunc('hour', ts), sum(value), count(*) FROM billing_meterevent
             WHERE org_id = %(org)s AND metric = %(metric)s AND date_trunc('hour', ts) = ANY(%(fresh)s::timestamptz[])
               AND late_status <> 'late_adjusted' {project_sql}
             GROUP BY 1""", params)
        rows = cur.fetchall()
    buckets: dict[str, list] = defaultdict(lambda: [Decimal(0), 0])
    for hour, value, events in rows:
        bucket = buckets[_label(hour, granularity)]
        bucket[0] += value
        bucket[1] += int(events)
    return [{"bucket": label, "value": str(value.normalize()), "events": events}
            for label, (value, events) in sorted(buckets.items())]
