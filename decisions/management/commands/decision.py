from __future__ import annotations

from django.core.management.base import CommandError

from decisions.models import DecisionRecord
from decisions.selectors import decision_explain, decision_replay
from dos.management.base import DosCommand, add_json_flag, is_uuid


class Command(DosCommand):
    help = "Replay or explain a recorded decision."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True, metavar="{replay,explain}")
        for name, text in (("replay", "re-evaluate with the pinned version and snapshot (exit 1 on mismatch)"),
                           ("explain", "reasons (ko/en), rule path, policy and chain position")):
            p = sub.add_parser(name, help=text)
            p.add_argument("decision_id")
            p.add_argument("--org", required=True)
            add_json_flag(p)

    def handle(self, *args, **options):
        with self.org_scope(options) as org:
            record = DecisionRecord.objects.select_related("policy_version__policy_set").filter(
                id=options["decision_id"]).first() if is_uuid(options["decision_id"]) else None
            if record is None:
                raise CommandError(f"No decision {options['decision_id']} in {org.slug}.")
            if options["verb"] == "replay":
                result = decision_replay(record)
                self.emit(options, result, lambda r: f"{'MISMATCH' if r['status'] == 'mismatch' else r['status']} "
                                                     f"(policy {r['policy_version']}) {r['diff'] or ''}")
                if result["status"] == "mismatch":
                    raise SystemExit(1)
            else:
                explained = decision_explain(record, org=org)
                self.emit(options, explained, lambda e: "\n".join(
                    [f"{e['outcome'].upper()} · {e['policy']['name']} {e['policy']['version']} · chain #{e['chain']['seq']}"]
                    + [f"  {r['code']}: {r['ko']} / {r['en']}" for r in e["reasons"]]))
