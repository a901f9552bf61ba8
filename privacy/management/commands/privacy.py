"""dosctl privacy: data subject requests, retention runs and legal holds from the shell.

Verifying a subject, approving an erasure and approving a retention run need a person (``--as``);
the rest may run as the operator (``system:dosctl``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import CommandError

from dos import scope
from dos.management.base import DosCommand, add_actor_flag, add_json_flag, is_uuid, resolve_org
from privacy.models import DsarKind, DsarRequest, HoldScope, LegalHold, RetentionRun, VerificationMethod


def _org(parser):
    parser.add_argument("--org", required=True, help="org slug or id")


def _when(value):
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _dsar_row(r: DsarRequest) -> dict:
    return {"id": str(r.id), "reference": r.reference, "kind": r.kind, "state": r.state,
            "subject_token": r.subject_token, "received_at": _when(r.received_at), "due_at": _when(r.due_at),
            "warned": r.warned_at is not None, "completed_at": _when(r.completed_at), "result": r.result}


def _dsar_table(rows) -> str:
    lines = [f"{'reference':<14} {'kind':<14} {'state':<9} {'due (UTC)':<17} subject"]
    lines += [f"{r['reference']:<14} {r['kind']:<14} {r['state']:<9} {r['due_at'][:16]:<17} {r['subject_token'][:24]}…"
              for r in rows]
    return "\n".join(lines if rows else ["(no requests)"])


def _run_row(run: RetentionRun) -> dict:
    return {"id": str(run.id), "status": run.status, "as_of": _when(run.as_of), "proposed_by": run.proposed_by_label,
            "items": [{"dataset": i.dataset, "action": i.action, "cutoff": _when(i.cutoff), "matched": i.matched,
                       "held": i.held, "done": i.done, "held_at_execution": i.held_at_execution,
                       "retained": i.retained} for i in run.items.order_by("dataset")]}


def _run_table(d: dict) -> str:
    lines = [f"retention run {d['id']} ({d['status']}) as of {d['as_of'][:16]} — proposed by {d['proposed_by']}",
             f"{'dataset':<22} {'action':<13} {'due':>7} {'held':>6} {'done':>7} {'held now':>9} {'retained':>9}"]
    lines += [f"{i['dataset']:<22} {i['action']:<13} {i['matched']:>7,} {i['held']:>6,} {i['done']:>7,} "
              f"{i['held_at_execution']:>9,} {i['retained']:>9,}" for i in d["items"]]
    return "\n".join(lines)


class Command(DosCommand):
    help = "Privacy: data subject requests (DSAR), retention runs and legal holds."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="area", required=True, metavar="{dsar,retention,hold}")

        dsar = sub.add_parser("dsar", help="data subject requests").add_subparsers(dest="verb", required=True)
        submit = dsar.add_parser("submit", help="record a request (its deadline comes from the privacy settings)")
        _org(submit)
        submit.add_argument("kind", choices=DsarKind.values)
        who = submit.add_mutually_exclusive_group(required=True)
        who.add_argument("--subject", help="your id of the applicant, as sent to /decide")
        who.add_argument("--subject-token", help="or the subject's vt_… token")
        submit.add_argument("--message", default="", help="the subject's words (sealed)")
        add_actor_flag(submit)
        add_json_flag(submit)
        ls = dsar.add_parser("ls", help="the queue: open requests by deadline (--all for every request)")
        _org(ls)
        ls.add_argument("--all", action="store_true", help="include done and rejected requests")
        add_json_flag(ls)
        for verb, text in (("show", "one request with its steps and timeline"),
                           ("run", "carry a request on from its step now (as the pipeline job does)")):
            one = dsar.add_parser(verb, help=text)
            _org(one)
            one.add_argument("request", help="DSAR-… reference or id")
            add_json_flag(one)
        verify = dsar.add_parser("verify", help="confirm the subject's identity (an erasure then asks a second "
                                                "person to approve)")
        _org(verify)
        verify.add_argument("request", help="DSAR-… reference or id")
        verify.add_argument("--method", required=True, choices=VerificationMethod.values)
        verify.add_argument("--note", default="")
        add_actor_flag(verify, required=True)
        add_json_flag(verify)
        reject = dsar.add_parser("reject", help="close a request without fulfilling it, with the reason")
        _org(reject)
        reject.add_argument("request", help="DSAR-… reference or id")
        reject.add_argument("--reason", required=True)
        add_actor_flag(reject)
        add_json_flag(reject)
        export = dsar.add_parser("export", help="write subject_export.zip of a request to a file")
        _org(export)
        export.add_argument("request", help="DSAR-… reference or id")
        export.add_argument("--out", required=True, help="where to write the zip")
        add_actor_flag(export, required=True)
        add_json_flag(export)

        retention = sub.add_parser("retention", help="retention runs").add_subparsers(dest="verb", required=True)
        plan = retention.add_parser("plan", help="compute a dry-run of every active rule (it waits for approval)")
        _org(plan)
        add_actor_flag(plan)
        add_json_flag(plan)
        show = retention.add_parser("show", help="a run's dry-run diff and progress (default: the latest)")
        _org(show)
        show.add_argument("run", nargs="?", help="run id")
        add_json_flag(show)
        for verb, text in (("approve", "approve a proposed run (someone other than its proposer)"),
                           ("reject", "reject a proposed run")):
            decide = retention.add_parser(verb, help=text)
            _org(decide)
            decide.add_argument("run", help="run id")
            decide.add_argument("--reason", default="")
            add_actor_flag(decide, required=True)
            add_json_flag(decide)
        execute = retention.add_parser("execute", help="execute an approved run now, in batches")
        _org(execute)
        execute.add_argument("run", help="run id")
        execute.add_argument("--batch", type=int, default=500)
        add_json_flag(execute)

        hold = sub.add_parser("hold", help="legal holds").add_subparsers(dest="verb", required=True)
        place = hold.add_parser("place", help="stop deletion and change of datasets, subjects or cases")
        _org(place)
        place.add_argument("scope", choices=HoldScope.values)
        place.add_argument("targets", nargs="+", help="dataset names, vt_ subject tokens or case ids")
        place.add_argument("--reason", required=True)
        place.add_argument("--reference", default="", help="matter or court reference")
        add_actor_flag(place)
        add_json_flag(place)
        release = hold.add_parser("release", help="end a hold (held-back retention is proposed again at once)")
        _org(release)
        release.add_argument("hold", help="hold id")
        add_actor_flag(release)
        add_json_flag(release)
        hls = hold.add_parser("ls", help="active holds")
        _org(hls)
        add_json_flag(hls)

    def handle(self, *args, **options):
        handler = getattr(self, f"do_{options['area']}_{options['verb']}")
        if (options["area"] == "retention" and options["verb"] == "execute") or (
                options["area"] == "dsar" and options["verb"] == "run"):
            return handler(resolve_org(options["org"]), options)  # these open their own transactions
        with self.org_scope(options) as org:
            return handler(org, options)

    # -- helpers ---------------------------------------------------------------------------------

    def _actor(self, org, options):
        from tenancy.principals import command_actor

        return command_actor(org, options.get("actor"))

    @staticmethod
    def _request(value: str) -> DsarRequest:
        if is_uuid(value):
            found = DsarRequest.objects.filter(id=value).first()
        else:
            prefix = value.upper().removeprefix("DSAR-").lower()
            matches = list(DsarRequest.objects.filter(id__startswith=prefix)[:2]) if len(prefix) >= 6 else []
            found = matches[0] if len(matches) == 1 else None
        if found is None:
            raise CommandError(f"No request '{value}' in this organisation (give its DSAR-… reference or id).")
        return found

    @staticmethod
    def _run(value: str | None) -> RetentionRun:
        runs = RetentionRun.objects.order_by("-created_at")
        run = runs.filter(id=value).first() if value and is_uuid(value) else (runs.first() if not value else None)
        if run is None:
            raise CommandError(f"No retention run '{value or 'yet'}' in this organisation.")
        return run

    # -- dsar -------------------------------------------------------------------------------------

    def do_dsar_submit(self, org, options):
        from privacy.dsar.services import dsar_submit

        request = dsar_submit(org_id=org.id, kind=options["kind"], subject_id=options.get("subject"),
                              subject_token=options.get("subject_token"), actor=self._actor(org, options),
                              details={"message": options["message"]} if options["message"] else {},
                              channel="dosctl")
        self.emit(options, _dsar_row(request), lambda d: f"{d['reference']} recorded ({d['kind']}), due "
                                                           f"{d['due_at'][:16]} UTC. Verify the subject next.")

    def do_dsar_ls(self, org, options):
        from privacy.models.dsar import OPEN_STATES

        requests = DsarRequest.objects.order_by("due_at")
        if not options["all"]:
            requests = requests.filter(state__in=OPEN_STATES)
        rows = [_dsar_row(r) for r in requests[:500]]
        self.emit(options, rows, _dsar_table)

    def do_dsar_show(self, org, options):
        request = self._request(options["request"])
        data = {**_dsar_row(request),
                "steps": [{"step": s.step, "at": _when(s.completed_at)} for s in request.steps.order_by("completed_at")],
                "timeline": [{"at": _when(e.at), "kind": e.kind, "actor": e.actor} for e in request.events.all()]}
        self.emit(options, data, lambda d: "\n".join(
            [f"{d['reference']} {d['kind']} — {d['state']}, due {d['due_at'][:16]} UTC"] +
            [f"  {e['at'][:19]}  {e['kind']:<20} {e['actor']}" for e in d["timeline"]]))

    def do_dsar_run(self, org, options):
        from privacy.dsar.pipeline import dsar_process

        with scope.org_scope(org.id):
            request = self._request(options["request"])
        state = dsar_process(org_id=org.id, request_id=request.id)
        self.emit(options, {"reference": request.reference, "state": state},
                  f"{request.reference} is at {state}.")

    def do_dsar_verify(self, org, options):
        from privacy.dsar.services import dsar_verify

        request = dsar_verify(request=self._request(options["request"]), actor=self._actor(org, options),
                              method=options["method"], note=options["note"])
        extra = " A second person must approve the erasure in Approvals." if request.kind == "erasure" else ""
        self.emit(options, _dsar_row(request), f"{request.reference} verified.{extra}")

    def do_dsar_reject(self, org, options):
        from privacy.dsar.services import dsar_reject

        request = dsar_reject(request=self._request(options["request"]), actor=self._actor(org, options),
                              reason=options["reason"])
        self.emit(options, _dsar_row(request), f"{request.reference} rejected.")

    def do_dsar_export(self, org, options):
        from privacy.dsar.services import export_download

        request = self._request(options["request"])
        data = export_download(request=request, actor=self._actor(org, options))
        Path(options["out"]).write_bytes(data)
        self.emit(options, {"reference": request.reference, "out": options["out"], "bytes": len(data)},
                  f"subject_export.zip of {request.reference} written to {options['out']} ({len(data):,} bytes).")

    # -- retention --------------------------------------------------------------------------------

    def do_retention_plan(self, org, options):
        from privacy.retention.services import retention_plan

        run = retention_plan(org_id=org.id, actor=self._actor(org, options))
        self.emit(options, _run_row(run), _run_table)

    def do_retention_show(self, org, options):
        self.emit(options, _run_row(self._run(options.get("run"))), _run_table)

    def do_retention_approve(self, org, options):
        from privacy.retention.services import retention_approve

        run = retention_approve(run=self._run(options["run"]), actor=self._actor(org, options),
                                reason=options["reason"])
        self.emit(options, _run_row(run), f"Run {run.id} approved; it executes in the background.")

    def do_retention_reject(self, org, options):
        from privacy.retention.services import retention_reject

        run = retention_reject(run=self._run(options["run"]), actor=self._actor(org, options),
                               reason=options["reason"])
        self.emit(options, _run_row(run), f"Run {run.id} rejected.")

    def do_retention_execute(self, org, options):
        from privacy.retention.services import retention_execute

        with scope.org_scope(org.id):
            run = self._run(options["run"])
        run = retention_execute(org_id=org.id, run_id=run.id, batch=options["batch"])
        with scope.org_scope(org.id):
            self.emit(options, _run_row(run), _run_table)

    # -- holds ------------------------------------------------------------------------------------

    def do_hold_place(self, org, options):
        from privacy.holds import hold_place

        hold = hold_place(org_id=org.id, actor=self._actor(org, options), scope=options["scope"],
                          targets=options["targets"], reason=options["reason"], reference=options["reference"])
        self.emit(options, {"id": str(hold.id), "scope": hold.scope, "targets": hold.targets},
                  f"Hold {hold.id} placed on {len(hold.targets)} {hold.scope}.")

    def do_hold_release(self, org, options):
        from privacy.holds import hold_release

        hold = LegalHold.objects.filter(id=options["hold"]).first() if is_uuid(options["hold"]) else None
        if hold is None:
            raise CommandError(f"No hold '{options['hold']}' in this organisation.")
        hold = hold_release(hold=hold, actor=self._actor(org, options))
        self.emit(options, {"id": str(hold.id), "released_at": _when(hold.released_at)},
                  f"Hold {hold.id} released; a catch-up retention dry-run waits for approval.")

    def do_hold_ls(self, org, options):
        from privacy.holds import active_holds

        rows = [{"id": str(h.id), "scope": h.scope, "targets": h.targets, "reason": h.reason,
                 "since": _when(h.starts_at), "until": _when(h.ends_at)} for h in active_holds()]
        self.emit(options, rows, lambda d: "\n".join(
            [f"{h['id']}  {h['scope']:<9} {len(h['targets']):>4} target(s)  {h['reason'][:60]}" for h in d]
            or ["(no active holds)"]))
