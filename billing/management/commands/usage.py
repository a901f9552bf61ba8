from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from billing.meters import METRICS
from billing.periods import month_of, month_start_utc, seoul_day
from billing.reconcile import usage_reconcile
from billing.rollups import usage_rollup, usage_rollup_backfill
from billing.selectors import GRANULARITIES, usage_series
from dos.management.base import DosCommand, add_json_flag, parse_when


class Command(DosCommand):
    help = "Usage: show it, roll it up (or backfill a window), reconcile metered vs observed."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True, metavar="{show,rollup,reconcile}")
        show = sub.add_parser("show", help="usage of one metric over time")
        show.add_argument("--org", required=True)
        show.add_argument("--metric", required=True, choices=sorted(METRICS))
        show.add_argument("--from", dest="start", help="ISO date/timestamp (default: month start)")
        show.add_argument("--to", dest="end", help="ISO date/timestamp (default: now)")
        show.add_argument("--granularity", choices=GRANULARITIES, default="day")
        add_json_flag(show)
        rollup = sub.add_parser("rollup", help="bring rollups up to date; --since rebuilds a window")
        rollup.add_argument("--org", required=True)
        rollup.add_argument("--since", help="rebuild every bucket touched by events from this moment on")
        add_json_flag(rollup)
        rec = sub.add_parser("reconcile", help="compare metered with observed usage for a day")
        rec.add_argument("--org", required=True)
        rec.add_argument("--date", help="Seoul calendar day (default: yesterday)")
        add_json_flag(rec)

    def handle(self, *args, **options):
        with self.org_scope(options) as org:
            return getattr(self, f"do_{options['verb']}")(org, options)

    def do_show(self, org, options):
        now = timezone.now()
        start = parse_when(options.get("start"), month_start_utc(month_of(now)))
        end = parse_when(options.get("end"), now)
        series = usage_series(org_id=org.id, metric=options["metric"], start=start, end=end,
                              granularity=options["granularity"])
        total = sum((Decimal(b["value"]) for b in series), Decimal(0))
        out = {"org": org.slug, "metric": options["metric"], "unit": METRICS[options["metric"]],
               "granularity": options["granularity"], "from": start.isoformat(), "to": end.isoformat(),
               "series": series, "total": str(total.normalize())}
        self.emit(options, out, lambda d: "\n".join(
            [f"{d['metric']} ({d['unit']}) for {d['org']}, {d['from'][:19]} → {d['to'][:19]}"] +
            [f"  {b['bucket']:<26} {b['value']:>16}  ({b['events']} events)" for b in d["series"]] +
            [f"  {'total':<26} {d['total']:>16}"]))

    def do_rollup(self, org, options):
        if options.get("since"):
            result = usage_rollup_backfill(org_id=org.id, since=parse_when(options["since"], timezone.now()))
        else:
            result = usage_rollup(org_id=org.id)
        out = {"org": org.slug, "cursor": result.cursor, "hours": result.hours, "days": result.days,
               "months": result.months, "since": result.since.isoformat() if result.since else None}
        self.emit(options, out, lambda d: f"Rolled up {d['org']}: {d['hours']} hour, {d['days']} day and "
                                          f"{d['months']} month buckets; cursor at event {d['cursor']}."
                                          + (f" Rebuilt from {d['since'][:19]} (older hours keep their totals: "
                                             "their events may be past retention)." if d["since"] else ""))

    def do_reconcile(self, org, options):
        day = dt.date.fromisoformat(options["date"]) if options.get("date") else seoul_day(timezone.now()) - dt.timedelta(days=1)
        reports = usage_reconcile(org_id=org.id, day=day)
        rows = [{"metric": r.metric, "metered": str(r.metered), "observed": str(r.observed),
                 "drift_pct": str(r.drift_pct), "alert": r.alert} for r in reports]
        self.emit(options, {"org": org.slug, "day": day.isoformat(), "reports": rows}, lambda d: "\n".join(
            [f"Reconciliation of {d['org']} for {d['day']}:"] +
            [f"  {'ALERT' if r['alert'] else 'ok   '} {r['metric']:<20} metered {r['metered']:>14} observed "
             f"{r['observed']:>14} drift {r['drift_pct']} %" for r in d["reports"]] or ["  nothing metered or observed"]))
        if any(r["alert"] for r in rows):
            raise SystemExit(1)
