"""Metering writes. ``meter_record_many`` is the one entry point (``meter_record`` wraps it for one
event): it writes in the caller's transaction, so an event exists exactly when the work it meters
committed — no separate dedupe store that could claim a key without the event.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.meters import METRICS, SOURCES
from billing.metrics import METER_COUNTERS
from billing.models import LateStatus, UsageMonthly
from billing.periods import month_closes_at, month_of, seoul_day
from dos.canonical import canonical_json, sha256_hex

MAX_VALUE = Decimal("1e15")


@dataclass
class MeterInput:
    metric: str
    value: object
    corr_id: str
    ts: dt.datetime | None = None
    unit: str | None = None
    project_id: uuid.UUID | None = None
    source: str = "api"
    meta: dict = field(default_factory=dict)


@dataclass
class MeterResult:
    status: str  # accepted | duplicate | rejected
    id: int | None = None
    reason: str = ""
    late_status: str = ""

    def as_dict(self) -> dict:
        out = {"status": self.status}
        if self.id is not None:
            out["id"] = self.id
        if self.reason:
            out["reason"] = self.reason
        if self.late_status and self.late_status != LateStatus.ON_TIME:
            out["late"] = self.late_status
        return out


def idem_key(org_id, metric: str, corr_id: str) -> str:
    return sha256_hex(f"{org_id}|{metric}|{corr_id}")


def _reject(reason: str) -> MeterResult:
    return MeterResult(status="rejected", reason=reason)


def _closed_months(org_id) -> set[dt.date]:
    with connection.cursor() as cur:
        cur.execute("SELECT DISTINCT month FROM billing_usagemonthly WHERE org_id = %s AND closed_at IS NOT NULL",
                    [org_id])
        return {row[0] for row in cur.fetchall()}


_EMPTY_META = "{}"


@dataclass
class _Limits:
    """Per-batch thresholds (settings read once, month closings memoised)."""

    now: dt.datetime
    future: dt.datetime
    too_old: dt.datetime
    late: dt.datetime
    org_id: object
    closed: set | None = None
    closes: dict = field(default_factory=dict)

    @classmethod
    def at(cls, now: dt.datetime, org_id) -> _Limits:
        return cls(now=now, future=now + dt.timedelta(seconds=settings.USAGE_FUTURE_SKEW_SECONDS),
                   too_old=now - dt.timedelta(days=settings.USAGE_MAX_LATENESS_DAYS),
                   late=now - dt.timedelta(seconds=settings.USAGE_LATE_LAG_SECONDS), org_id=org_id)

    def month_closed(self, month: dt.date) -> bool:
        if month not in self.closes:
            if self.now >= month_closes_at(month):
                self.closes[month] = True
            elif month >= month_of(self.now):
                # period_close refuses a month that has not ended, so the current month is open:
                # the common case (events stamped now) needs no query.
                self.closes[month] = False
            else:
                if self.closed is None:
                    self.closed = _closed_months(self.org_id)
                self.closes[month] = month in self.closed
        return self.closes[month]


def _validate(item: MeterInput, *, plan_metrics, project_ids, limits: _Limits, now_month) -> tuple[MeterResult | None, dict]:
    if item.metric not in METRICS:
        return _reject("unknown_metric"), {}
    if item.metric not in plan_metrics:
        return _reject("metric_not_in_plan"), {}
    try:
        value = item.value if isinstance(item.value, Decimal) else Decimal(str(item.value))
    except (InvalidOperation, ValueError):
        return _reject("invalid_value"), {}
    if not value.is_finite() or value < 0 or value > MAX_VALUE:
        return _reject("invalid_value"), {}
    if item.unit and item.unit != METRICS[item.metric]:
        return _reject("wrong_unit"), {}
    if not item.corr_id or len(item.corr_id) > 64:
        return _reject("invalid_corr_id"), {}
    if item.source not in SOURCES:
        return _reject("unknown_source"), {}
    if item.project_id and item.project_id not in project_ids:
        return _reject("unknown_project"), {}
    meta_json = canonical_json(item.meta) if item.meta else _EMPTY_META
    if len(meta_json) > 4096:
        return _reject("meta_too_large"), {}
    ts = item.ts or limits.now
    if ts.tzinfo is None:
        return _reject("timestamp_without_timezone"), {}
    if ts > limits.future:
        return _reject("future_timestamp"), {}
    if ts < limits.too_old:
        return MeterResult(status="rejected", reason="too_late", late_status="late_dropped"), {}
    month = month_of(ts) if ts is not limits.now else now_month
    if limits.month_closed(month):
        late = LateStatus.LATE_ADJUSTED
    elif ts < limits.late:
        late = LateStatus.LATE_KEPT
    else:
        late = LateStatus.ON_TIME
    return None, {"ts": ts, "value": value, "late": late, "month": month, "meta": meta_json}


# Rows are streamed with COPY into a session-local staging table (no per-value quoting in Python),
# then inserted in one statement; ON CONFLICT on the (org, idem_key) constraint makes duplicates
# no-ops and RETURNING tells which keys were new. The staging table holds nothing tenant-visible:
# it is temporary (this session only) and truncated before every batch.
# Not ON COMMIT DELETE ROWS: that truncates the table at every commit of the session (milliseconds,
# inside whatever locks the transaction holds); the rows are cleared explicitly before each batch.
_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS meter_stage (
    p uuid, t timestamptz, m text, v numeric, u text, c text, s text, meta text, k text, l text
)
"""
_COPY_FROM = 50  # smaller batches go in one INSERT … SELECT FROM unnest(…) statement
_INSERT_SMALL = """
INSERT INTO billing_meterevent (org_id, project_id, ts, metric, value, unit, corr_id, source, meta, idem_key,
                                late_status, ingested_at)
SELECT %(org)s, x.p, x.t, x.m, x.v, x.u, x.c, x.s, x.meta::jsonb, x.k, x.l, %(now)s
  FROM unnest(%(p)s::uuid[], %(t)s::timestamptz[], %(m)s::text[], %(v)s::numeric[], %(u)s::text[],
              %(c)s::text[], %(s)s::text[], %(meta)s::text[], %(k)s::text[], %(l)s::text[])
       AS x(p, t, m, v, u, c, s, meta, k, l)
ON CONFLICT ON CONSTRAINT meterevent_org_idem_uniq DO NOTHING
RETURNING idem_key, id
"""
_INSERT = """
INSERT INTO billing_meterevent (org_id, project_id, ts, metric, value, unit, corr_id, source, meta, idem_key,
                                late_status, ingested_at)
SELECT %(org)s, p, t, m, v, u, c, s, meta::jsonb, k, l, %(now)s FROM meter_stage
ON CONFLICT ON CONSTRAINT meterevent_org_idem_uniq DO NOTHING
RETURNING idem_key, id
"""


def meter_record_many(*, org, items: list[MeterInput], now: dt.datetime | None = None,
                      trusted_project: bool = False) -> list[MeterResult]:
    """Validate each item, insert the valid ones in one statement, report each item's fate."""
    from tenancy.plans import effective_plan

    now = now or timezone.now()
    plan_metrics = set(effective_plan(org).metrics)  # plan + platform overrides, never Org.settings
    from tenancy.models import Project

    project_ids = {p for p in (i.project_id for i in items) if p}
    if project_ids and not trusted_project:  # server code that already loaded the project skips this
        project_ids = set(Project.objects.filter(org=org, id__in=project_ids).values_list("id", flat=True))
    limits = _Limits.at(now, org.id)
    now_month = month_of(now)
    key_prefix = f"{org.id}|"
    results: list[MeterResult | None] = [None] * len(items)
    rows: dict[str, tuple[int, MeterInput, dict]] = {}
    counters = {"duplicates": 0, "late_kept": 0, "late_adjusted": 0, "late_dropped": 0}
    for index, item in enumerate(items):
        refused, info = _validate(item, plan_metrics=plan_metrics, project_ids=project_ids, limits=limits,
                                  now_month=now_month)
        if refused:
            if refused.late_status == "late_dropped":
                counters["late_dropped"] += 1
            results[index] = refused
            continue
        key = sha256_hex(f"{key_prefix}{item.metric}|{item.corr_id}")  # = idem_key()
        if key in rows:  # a duplicate inside the same batch
            results[index] = MeterResult(status="duplicate")
            counters["duplicates"] += 1
            continue
        rows[key] = (index, item, info)
    inserted: dict[str, int] = {}
    if rows:
        ordered = list(rows.items())
        with transaction.atomic(savepoint=False), connection.cursor() as cur:
            if len(ordered) < _COPY_FROM:
                cols = {k: [] for k in ("p", "t", "m", "v", "u", "c", "s", "meta", "k", "l")}
                for key, (_, item, info) in ordered:
                    for col, value in zip(cols, (item.project_id, info["ts"], item.metric, info["value"],
                                                 METRICS[item.metric], item.corr_id, item.source, info["meta"], key,
                                                 str(info["late"])), strict=True):
                        cols[col].append(value)
                cur.execute(_INSERT_SMALL, {"org": org.id, "now": now, **cols})
            else:
                cur.execute(_STAGE)
                cur.execute("DELETE FROM meter_stage")  # cheaper than TRUNCATE for a small temp table
                with cur.cursor.copy("COPY meter_stage (p, t, m, v, u, c, s, meta, k, l) FROM STDIN") as copy:
                    for key, (_, item, info) in ordered:
                        copy.write_row((item.project_id, info["ts"], item.metric, info["value"], METRICS[item.metric],
                                        item.corr_id, item.source, info["meta"], key, str(info["late"])))
                cur.execute(_INSERT, {"org": org.id, "now": now})
            inserted = dict(cur.fetchall())
            adjustments = []
            for key, (index, item, info) in ordered:
                if key not in inserted:
                    results[index] = MeterResult(status="duplicate")
                    counters["duplicates"] += 1
                    continue
                results[index] = MeterResult(status="accepted", id=inserted[key], late_status=str(info["late"]))
                if info["late"] == LateStatus.LATE_ADJUSTED:
                    counters["late_adjusted"] += 1
                    adjustments.append((inserted[key], item.metric, info["value"], info["month"]))
                elif info["late"] == LateStatus.LATE_KEPT:
                    counters["late_kept"] += 1
            if adjustments:
                _record_adjustments(org.id, adjustments, now)
    _bump_counters(org.id, counters, now)
    accepted = [(items[r_index].metric, info["ts"], info["value"]) for key, (r_index, _item, info) in rows.items()
                if key in inserted]
    if accepted:
        from billing.quotas import window_counters_add

        transaction.on_commit(lambda: window_counters_add(org.id, accepted))
    return [r for r in results if r is not None]


def meter_record(*, org, metric: str, value=1, corr_id: str, ts=None, project_id=None, source: str = "api",
                 meta: dict | None = None, now=None, trusted_project: bool = False) -> MeterResult:
    return meter_record_many(org=org, now=now, trusted_project=trusted_project, items=[MeterInput(
        metric=metric, value=value, corr_id=corr_id, ts=ts, project_id=project_id, source=source, meta=meta or {})])[0]


def _record_adjustments(org_id, adjustments, now) -> None:
    from billing.models import UsageAdjustment
    from billing.periods import next_month

    apply_to = month_of(now)
    UsageAdjustment.objects.bulk_create([
        UsageAdjustment(org_id=org_id, event_id=event_id, metric=metric, value=value, period=period,
                        apply_to_month=max(apply_to, next_month(period)), created_at=now)
        for event_id, metric, value, period in adjustments
    ])


def _bump_counters(org_id, counters: dict[str, int], now) -> None:
    day = seoul_day(now)
    nonzero = {name: n for name, n in counters.items() if n}
    if not nonzero:
        return
    with connection.cursor() as cur:
        for name, n in nonzero.items():
            cur.execute(
                "INSERT INTO billing_usagecounter (org_id, day, name, value) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT ON CONSTRAINT usagecounter_org_day_name_uniq "
                "DO UPDATE SET value = billing_usagecounter.value + EXCLUDED.value",
                [org_id, day, name, n],
            )
            METER_COUNTERS.labels(counter=name).inc(n)


def period_close(*, org_id, month: dt.date, now=None) -> int:
    """Close a billing month (the invoice run calls this): later events for it become adjustments.

    Only a month that has ended can be closed (metering relies on the current month being open)."""
    now = now or timezone.now()
    if month_of(now) <= month:
        raise ValueError(f"{month:%Y-%m} has not ended yet; only past months can be closed.")
    return UsageMonthly.objects.filter(org_id=org_id, month=month, closed_at__isnull=True).update(closed_at=now)


def meter_events_purge(*, org_id, ids: list[int]) -> int:
    """Remove the named meter events of the org in scope that are past ``PURGE_FLOOR_DAYS`` — the
    retention purge, the one way meter events leave the database (billing_meterevent_purge, run as the
    table owner; events a usage adjustment points at stay). Returns how many were removed."""
    if not ids:
        return 0
    with connection.cursor() as cur:
        cur.execute("SELECT billing_meterevent_purge(%s, %s::bigint[])", [org_id, list(ids)])
        return cur.fetchone()[0]
