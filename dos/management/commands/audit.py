from __future__ import annotations

from dos import scope
from dos.ledger import CHAINS, chain_verify, chains_in_scope
from dos.management.base import DosCommand, add_json_flag
from dos.models import LedgerEntry


class Command(DosCommand):
    help = "Verify and list the hash chains (audit, decisions, billing)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True, metavar="{verify,ls}")
        verify = sub.add_parser("verify", help="walk the chains, hold them against heads, anchors and records; "
                                           "exit 1 and name the first broken entry and every record that differs")
        verify.add_argument("--org", help="one org (slug or id); all orgs when omitted (platform scope, audited)")
        verify.add_argument("--chain", choices=CHAINS, help="one chain; all when omitted")
        add_json_flag(verify)
        ls = sub.add_parser("ls", help="list the newest entries of a chain")
        ls.add_argument("--org", required=True)
        ls.add_argument("--chain", choices=CHAINS, default="audit")
        ls.add_argument("--action", help="only this action, e.g. apikey.revoked")
        ls.add_argument("--limit", type=int, default=20)
        add_json_flag(ls)

    def handle(self, *args, **options):
        return getattr(self, f"do_{options['verb']}")(options)

    def do_verify(self, options):
        if options.get("org"):
            with self.org_scope(options) as org:
                results = [chain_verify(org_id=o, chain=c) for o, c in chains_in_scope(org_id=org.id,
                                                                                          chain=options.get("chain"))]
        else:
            with scope.platform_scope(reason="dosctl audit verify (all orgs)"):
                results = [chain_verify(org_id=o, chain=c) for o, c in chains_in_scope(chain=options.get("chain"))]
        report = {"ok": all(r.ok for r in results), "chains": [r.as_dict() for r in results]}

        def human(rep):
            lines = []
            for r in rep["chains"]:
                state = "ok    " if r["ok"] else "BROKEN"
                records = f", {r['records_checked']} records" if r["records_checked"] else ""
                if r["ok"]:
                    tail = f"{r['checked']} entries{records}"
                elif r["failure"] == "record_mismatch":
                    tail = f"{r['checked']} entries intact; {len(r['bad_records'])} records do not match their entries"
                else:
                    where = f" at entry #{r['first_bad_seq']}" if r["first_bad_seq"] else ""
                    tail = f"{r['failure']}{where}: {r['reason']}"
                lines.append(f"[{state}] {r['chain']:<9} org {r['org_id']}  {tail}")
                lines.extend(f"         {p['kind']} {p['record_id']} (entry #{p['seq']}): {p['reason']}"
                             for p in r["bad_records"])
            return "\n".join(lines) or "no chains"

        self.emit(options, report, human)
        if not report["ok"]:
            raise SystemExit(1)

    def do_ls(self, options):
        with self.org_scope(options):
            entries = LedgerEntry.objects.filter(chain=options["chain"]).order_by("-seq")
            if options.get("action"):
                entries = entries.filter(action=options["action"])
            rows = [{"seq": e.seq, "created_at": e.created_at.isoformat(), "action": e.action, "actor": e.actor,
                     "target": e.target, "data": e.data, "hash": e.hash} for e in entries[: max(1, options["limit"])]]
        self.emit(options, rows, lambda rs: "\n".join(
            f"#{r['seq']:<6} {r['created_at'][:19]}  {r['action']:<24} {r['actor']:<44} {r['target']}" for r in rs)
            or "no entries")
