"""Review-desk figures (SPEC §10): first-pick and resolution time p95, SLA compliance, reopen rate,
throughput, and per queue the depth and the cases at risk. One SQL round trip per question,
inside the org's scope (RLS), for the admin queue overview, ``dosctl hitl report`` and ``/metrics``.

Definitions
- first_pick_time: created → first action by a reviewer, for cases first picked in the window.
- resolution_time: created → resolved, for cases resolved in the window.
- SLA compliance: share of the cases resolved in the window that were resolved by their due time.
- reopen rate: share of the cases resolved in the window that were reopened (appealed) at least once.
- at risk: open cases past their warning time; breached: open cases past their due time.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection
from prometheus_client import Gauge

from dos.rls import pinned_org_id
from hitl.services import clock

_SUMMARY_SQL = """
SELECT
  (SELECT count(*) FROM hitl_case WHERE {org} created_at >= %(start)s AND created_at < %(end)s),
  count(*),
  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at)),
  avg(CASE WHEN sla_due_at IS NULL THEN NULL WHEN resolved_at <= sla_due_at THEN 1.0 ELSE 0.0 END),
  avg(CASE WHEN reopen_count > 0 THEN 1.0 ELSE 0.0 END),
  (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM first_picked_at - created_at))
     FROM hitl_case WHERE {org} first_picked_at >= %(start)s AND first_picked_at < %(end)s),
  (SELECT count(*) FROM hitl_case WHERE {org} first_picked_at >= %(start)s AND first_picked_at < %(end)s)
FROM hitl_case
WHERE {org} status = 'closed' AND resolved_at >= %(start)s AND resolved_at < %(end)s
"""

_QUEUES_SQL = """
SELECT q.id, q.name, q.kind, q.depth_threshold,
       count(c.id) FILTER (WHERE c.status <> 'closed'),
       count(c.id) FILTER (WHERE c.status <> 'closed' AND c.owner_id IS NULL),
       count(c.id) FILTER (WHERE c.status <> 'closed' AND c.warn_at <= %(now)s AND c.sla_due_at > %(now)s),
       count(c.id) FILTER (WHERE c.status <> 'closed' AND c.sla_due_at <= %(now)s),
       min(c.sla_due_at) FILTER (WHERE c.status <> 'closed')
FROM hitl_queue q LEFT JOIN hitl_case c ON c.queue_id = q.id AND c.org_id = q.org_id
WHERE {q_org} q.active
GROUP BY q.id, q.name, q.kind, q.depth_threshold, q.rank
ORDER BY q.rank, q.name
"""


def _org(alias: str = "") -> tuple[str, dict]:
    """``<alias>.org_id = %(org)s AND`` in an org scope (the statement names its org, docs/scale.md),
    nothing in platform scope (every org's figures)."""
    org_id = pinned_org_id()
    if org_id is None:
        return "", {}
    return f"{alias + '.' if alias else ''}org_id = %(org)s AND", {"org": org_id}


def _ratio(value) -> float | None:
    return None if value is None else round(float(value), 4)


def _seconds(value) -> float | None:
    return None if value is None else round(float(value), 1)


def queue_depths(*, now: dt.datetime | None = None) -> list[dict]:
    """Per active queue: open cases, unassigned, at risk (past warning), breached, oldest due."""
    q_org, params = _org("q")
    with connection.cursor() as cur:
        cur.execute(_QUEUES_SQL.format(q_org=q_org), {"now": now or clock(), **params})
        rows = cur.fetchall()
    return [{"id": str(queue_id), "queue": name, "kind": kind, "threshold": threshold, "depth": depth,
             "unassigned": unassigned, "at_risk": at_risk, "breached": breached, "next_due": next_due}
            for queue_id, name, kind, threshold, depth, unassigned, at_risk, breached, next_due in rows]


def desk_report(*, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None) -> dict:
    """The desk's figures over [start, end) plus its queues as they are now."""
    if end <= start:
        raise ValueError("the report window must end after it starts")
    org, params = _org()
    with connection.cursor() as cur:
        cur.execute(_SUMMARY_SQL.format(org=org), {"start": start, "end": end, **params})
        opened, resolved, resolution_p95, compliance, reopen, first_pick_p95, picked = cur.fetchone()
    return {
        "from": start.isoformat(), "to": end.isoformat(),
        "opened": opened, "resolved": resolved, "picked": picked,
        "first_pick_time_p95_s": _seconds(first_pick_p95),
        "resolution_time_p95_s": _seconds(resolution_p95),
        "sla_compliance": _ratio(compliance),
        "reopen_rate": _ratio(reopen),
        "queues": queue_depths(now=now),
    }


def throughput_by_day(*, days: int = 14, now: dt.datetime | None = None) -> list[dict]:
    """Cases opened and resolved per Seoul calendar day, oldest first (for the overview's chart)."""
    now = now or clock()
    org, params = _org("c")
    with connection.cursor() as cur:
        cur.execute(f"""
            WITH d AS (SELECT generate_series((%(now)s AT TIME ZONE 'Asia/Seoul')::date - (%(days)s - 1),
                                              (%(now)s AT TIME ZONE 'Asia/Seoul')::date, '1 day')::date AS day)
            SELECT d.day,
                   (SELECT count(*) FROM hitl_case c
                     WHERE {org} (c.created_at AT TIME ZONE 'Asia/Seoul')::date = d.day),
                   (SELECT count(*) FROM hitl_case c WHERE {org} c.status = 'closed'
                       AND (c.resolved_at AT TIME ZONE 'Asia/Seoul')::date = d.day)
            FROM d ORDER BY d.day""", {"now": now, "days": days, **params})
        return [{"day": day, "opened": opened, "resolved": resolved} for day, opened, resolved in cur.fetchall()]


# -- Prometheus ----------------------------------------------------------------------------------
# Refreshed by the beat job hitl.tasks.metrics_refresh_all (gunicorn and Celery share the
# multiprocess directory; "mostrecent" keeps the last value written by any process).
_GAUGE = {"multiprocess_mode": "mostrecent"}
QUEUE_DEPTH = Gauge("dos_hitl_queue_depth", "Open review cases per queue.", ["org", "queue"], **_GAUGE)
QUEUE_AT_RISK = Gauge("dos_hitl_queue_sla_at_risk", "Open cases past their SLA warning, per queue.",
                      ["org", "queue"], **_GAUGE)
QUEUE_BREACHED = Gauge("dos_hitl_queue_sla_breached", "Open cases past their SLA due time, per queue.",
                       ["org", "queue"], **_GAUGE)
FIRST_PICK_P95 = Gauge("dos_hitl_first_pick_seconds_p95", "First-pick time p95 over the last 7 days.", ["org"],
                       **_GAUGE)
RESOLUTION_P95 = Gauge("dos_hitl_resolution_seconds_p95", "Resolution time p95 over the last 7 days.", ["org"],
                       **_GAUGE)
SLA_COMPLIANCE = Gauge("dos_hitl_sla_compliance_ratio", "Cases resolved within SLA, last 7 days.", ["org"],
                       **_GAUGE)
REOPEN_RATE = Gauge("dos_hitl_reopen_rate", "Resolved cases that were reopened, last 7 days.", ["org"], **_GAUGE)
METRICS_WINDOW = dt.timedelta(days=7)


def metrics_publish(*, org_label: str, now: dt.datetime | None = None) -> dict:
    """Compute the org's figures and set the gauges (label: the org's slug)."""
    now = now or clock()
    report = desk_report(start=now - METRICS_WINDOW, end=now, now=now)
    for gauge, key in ((FIRST_PICK_P95, "first_pick_time_p95_s"), (RESOLUTION_P95, "resolution_time_p95_s"),
                       (SLA_COMPLIANCE, "sla_compliance"), (REOPEN_RATE, "reopen_rate")):
        if report[key] is not None:
            gauge.labels(org=org_label).set(report[key])
    for row in report["queues"]:
        QUEUE_DEPTH.labels(org=org_label, queue=row["queue"]).set(row["depth"])
        QUEUE_AT_RISK.labels(org=org_label, queue=row["queue"]).set(row["at_risk"])
        QUEUE_BREACHED.labels(org=org_label, queue=row["queue"]).set(row["breached"])
    return report
