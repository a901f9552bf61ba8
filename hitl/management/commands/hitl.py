"""dosctl hitl: the review desk from the shell — queues, acting on a case, SLA and throughput reports."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError
from django.utils import timezone

from dos.management.base import DosCommand, add_json_flag, parse_when
from hitl.actions import ActionInvalid, ActionRefused, IllegalTransition, case_act
from hitl.choices import CaseAction
from hitl.metrics import desk_report, queue_depths
from hitl.selectors import case_by_id_or_number
from tenancy.approvals import FourEyesViolation


def _seconds(value) -> str:
    if value is None:
        return "—"
    return f"{value / 3600:.1f} h" if value >= 3600 else f"{value / 60:.0f} min"


def _pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


class Command(DosCommand):
    help = "Human review: list queues, act on a case, report SLA and throughput."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True, metavar="{queue,case,report}")
        queue = sub.add_parser("queue", help="queues of an org").add_subparsers(dest="sub", required=True)
        ls = queue.add_parser("ls", help="each queue with open, waiting, at-risk and breached cases")
        ls.add_argument("--org", required=True, help="org slug or id")
        add_json_flag(ls)

        case = sub.add_parser("case", help="act on cases").add_subparsers(dest="sub", required=True)
        act = case.add_parser("act", help="approve, deny, escalate, … a case as a named reviewer")
        act.add_argument("--org", required=True, help="org slug or id")
        act.add_argument("case", help="the case number as the inbox shows it (42 or #42), or its id")
        act.add_argument("action", choices=CaseAction.values)
        act.add_argument("--as", dest="actor", required=True, metavar="EMAIL",
                         help="the reviewer acting; their roles in the org decide what they may do")
        act.add_argument("--comment", default="", help="reason (required for override, request_docs, close)")
        act.add_argument("--outcome", choices=["approve", "deny"], help="the new outcome, for override")
        add_json_flag(act)

        report = sub.add_parser("report", help="SLA compliance, p95 times, reopen rate and throughput")
        report.add_argument("--org", required=True, help="org slug or id")
        report.add_argument("--from", dest="start", help="ISO date/timestamp (default: 7 days ago)")
        report.add_argument("--to", dest="end", help="ISO date/timestamp (default: now)")
        add_json_flag(report)

    def handle(self, *args, **options):
        with self.org_scope(options) as org:
            name = options["verb"] + (f"_{options['sub']}" if options.get("sub") else "")
            return getattr(self, f"do_{name}")(org, options)

    def do_queue_ls(self, org, options):
        rows = queue_depths()
        self.emit(options, {"org": org.slug, "queues": rows}, lambda d: "\n".join(
            [f"{'queue':<16} {'kind':<9} {'open':>5} {'waiting':>8} {'at risk':>8} {'breached':>9} {'threshold':>10}"] +
            [f"{q['queue']:<16} {q['kind']:<9} {q['depth']:>5} {q['unassigned']:>8} {q['at_risk']:>8} "
             f"{q['breached']:>9} {q['threshold']:>10}" for q in d["queues"]] or ["(no queues yet)"]))

    def do_case_act(self, org, options):
        from tenancy.principals import command_actor

        actor = command_actor(org, options["actor"])
        case = case_by_id_or_number(options["case"])
        if case is None:
            raise CommandError(f"No case '{options['case']}' in {org.slug} (give its number or id).")
        try:
            case = case_act(case=case, action=options["action"], actor=actor,
                            comment=options["comment"], outcome=options.get("outcome") or "")
        except (IllegalTransition, ActionRefused, FourEyesViolation, ActionInvalid) as exc:
            raise CommandError(str(exc)) from exc
        out = {"case": case.number, "status": case.status, "outcome": case.outcome, "queue": case.queue.name,
               "owner": case.owner.email if case.owner_id else None}
        self.emit(options, out, lambda d: f"Case #{d['case']}: {options['action']} recorded; now {d['status']}"
                                          f"{' (' + d['outcome'] + ')' if d['outcome'] else ''} in {d['queue']}.")

    def do_report(self, org, options):
        now = timezone.now()
        start = parse_when(options.get("start"), now - dt.timedelta(days=7))
        end = parse_when(options.get("end"), now)
        if end <= start:
            raise CommandError("--to must be after --from.")
        report = {"org": org.slug, **desk_report(start=start, end=end, now=now)}
        self.emit(options, report, lambda d: "\n".join([
            f"Review desk of {d['org']}, {d['from'][:19]} → {d['to'][:19]}",
            f"  opened {d['opened']}, resolved {d['resolved']}, first picked {d['picked']}",
            f"  first-pick time p95   {_seconds(d['first_pick_time_p95_s'])}",
            f"  resolution time p95   {_seconds(d['resolution_time_p95_s'])}",
            f"  SLA compliance        {_pct(d['sla_compliance'])}",
            f"  reopen rate           {_pct(d['reopen_rate'])}",
            "  queues now: " + (", ".join(f"{q['queue']} {q['depth']} open ({q['breached']} breached)"
                                          for q in d["queues"]) or "none"),
        ]))
