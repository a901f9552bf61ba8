from __future__ import annotations

from django.core.management.base import CommandError

from dos.backup import (
    backup_audit,
    backup_create,
    backup_dir,
    backup_list,
    backup_prune,
    backup_restore,
    backup_verify,
    keep_default,
    restore_plan,
)
from dos.management.base import DosCommand, add_json_flag


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _problems(report: dict) -> str:
    lines = []
    for p in report["problems"]:
        detail = ", ".join(f"{k}={v}" for k, v in p.items() if k != "kind")
        lines.append(f"  ✗ {p['kind']}: {detail}")
    return "\n".join(lines)


class Command(DosCommand):
    help = ("Back up the database and MEDIA_ROOT with a manifest (row counts, chain heads, checksums), "
            "rehearse restores, restore, prune. Backups live in DOS_BACKUP_DIR.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True, metavar="{create,verify,restore,list,prune}")
        create = sub.add_parser("create", help="pg_dump the database and archive MEDIA_ROOT into a new backup; "
                                               "the manifest holds every table's rows and every chain head")
        create.add_argument("--name", help="the backup's name (default: the UTC time, e.g. 20250101T023000Z); "
                                           "an existing complete backup of that name is reused")
        create.add_argument("--verify", action="store_true", help="rehearse its restore right after (see verify)")
        add_json_flag(create)
        verify = sub.add_parser("verify", help="restore into a scratch database <db>_verify_<stamp>, compare rows and "
                                               "chain heads with the manifest, check the append-only protections, "
                                               "run 'audit verify' there, drop it; exit 1 on any difference")
        verify.add_argument("name", help="the backup (see 'dosctl backup list')")
        add_json_flag(verify)
        restore = sub.add_parser(
            "restore", help="put a backup back into the configured database (owning role, one transaction) and "
                            "MEDIA_ROOT, then check rows, chain heads and every chain in place; needs --yes")
        restore.add_argument("name", help="the backup (see 'dosctl backup list')")
        restore.add_argument("--yes", action="store_true",
                             help="really replace the configured database's contents (without it: print the plan)")
        restore.add_argument("--database", help="name the configured database, as a check (refused if it differs)")
        add_json_flag(restore)
        ls = sub.add_parser("list", help="the backups, newest first, with their last rehearsal")
        add_json_flag(ls)
        prune = sub.add_parser("prune", help="delete the oldest nightly backups beyond --keep; the newest verified "
                                             "backup is never deleted")
        prune.add_argument("--keep", type=int, default=None,
                           help=f"nightly backups to keep (default DOS_BACKUP_KEEP, now {keep_default()})")
        add_json_flag(prune)

    def handle(self, *args, **options):
        return getattr(self, f"do_{options['verb']}")(options)

    def do_create(self, options):
        manifest = backup_create(name=options.get("name"))
        if options.get("verify"):
            manifest = backup_verify(manifest["name"])
        backup_audit("backup.created", {"backup": manifest["name"], "rows": sum(manifest["tables"].values()),
                                        "dump_sha256": manifest["dump"]["sha256"],
                                        "verified": (manifest.get("verify") or {}).get("ok")}, actor="dosctl")

        def human(m):
            lines = [f"backup {m['name']} in {backup_dir() / m['name']}",
                     f"  database {m['database']} (PostgreSQL {m['server_version']}): {len(m['tables'])} tables, "
                     f"{sum(m['tables'].values())} rows, {len(m['chains'])} chain heads",
                     f"  {m['dump']['file']}  {_mb(m['dump']['bytes'])} in {m['dump']['seconds']:.2f}s  "
                     f"sha256 {m['dump']['sha256']}",
                     f"  {m['media']['file']}  {m['media']['files']} files, {_mb(m['media']['bytes'])}  "
                     f"sha256 {m['media']['sha256']}"]
            if m.get("verify"):
                lines.append(_verify_line(m))
            return "\n".join(lines)

        self.emit(options, manifest, human)
        if manifest.get("verify") and not manifest["verify"]["ok"]:
            raise SystemExit(1)

    def do_verify(self, options):
        manifest = backup_verify(options["name"])
        backup_audit("backup.verified" if manifest["verify"]["ok"] else "backup.verify_failed",
                     {"backup": manifest["name"], **{k: manifest["verify"][k] for k in ("ok", "rows", "chains_verified")}},
                     actor="dosctl")
        self.emit(options, manifest, lambda m: _verify_line(m) + ("\n" + _problems(m["verify"])
                                                                    if m["verify"]["problems"] else ""))
        if not manifest["verify"]["ok"]:
            raise SystemExit(1)

    def do_restore(self, options):
        plan = restore_plan(options["name"])
        plan_text = (f"restore backup {plan['backup']} (taken {plan['created_at']} from {plan['from_database']}; "
                     f"last rehearsal: {plan['last_verify']['at'] or 'never'}"
                     f"{'' if plan['last_verify']['ok'] is None else (', ok' if plan['last_verify']['ok'] else ', FAILED')})\n"
                     f"  into     {plan['into']}: every table, sequence, trigger, policy and grant in the backup is "
                     f"dropped and recreated in one transaction ({plan['tables']} tables, {plan['rows']} rows, "
                     f"{plan['chains']} chains)\n"
                     f"  media    {plan['media_files']} files extracted into {plan['media_root']}\n"
                     f"  then     rows, chain heads, append-only protections and 'audit verify' checked in place")
        if not options.get("yes"):
            self.stdout.write(plan_text)
            raise CommandError("Refusing to restore without --yes (stop web, workers and beat first; "
                               "see docs/runbooks/backup-restore.md).")
        if not options.get("json"):
            self.stdout.write(plan_text)
        outcome = backup_restore(options["name"], database=options.get("database"))
        backup_audit("backup.restored" if outcome["ok"] else "backup.restore_check_failed",
                     {"backup": outcome["backup"], "ok": outcome["ok"], "rows": outcome["rows"],
                      "chains_verified": outcome["chains_verified"], "seconds": outcome["seconds"]}, actor="dosctl")

        def human(o):
            s = o["seconds"]
            head = (f"{'restored' if o['ok'] else 'RESTORED WITH PROBLEMS'}: {o['backup']} into {o['into']}\n"
                    f"  restore {s.get('restore', 0):.2f}s, media {s.get('media', 0):.2f}s, checks "
                    f"{s.get('counts', 0) + s.get('chains', 0):.2f}s, total {s.get('total', 0):.2f}s; "
                    f"{o['rows']} rows, {o['chains_verified']} chains verified")
            return head + ("\n" + _problems(o) if o["problems"] else "")

        self.emit(options, outcome, human)
        if not outcome["ok"]:
            raise SystemExit(1)

    def do_list(self, options):
        rows = [{"name": m["name"], "kind": m.get("kind"), "created_at": m["created_at"],
                 "rows": sum(m["tables"].values()), "dump_bytes": m["dump"]["bytes"],
                 "verified_at": m.get("verified_at"), "ok": (m.get("verify") or {}).get("ok")} for m in backup_list()]
        self.emit(options, rows, lambda rs: "\n".join(
            f"{r['name']:<24} {r['kind'] or '':<8} {r['created_at'][:19]}  {r['rows']:>10} rows  "
            f"{_mb(r['dump_bytes']):>10}  "
            f"{'verified ok' if r['ok'] else ('VERIFY FAILED' if r['ok'] is False else 'not verified')}"
            for r in rs) or f"no backups in {backup_dir()}")

    def do_prune(self, options):
        deleted = backup_prune(keep=options.get("keep"))
        self.emit(options, {"deleted": deleted}, lambda d: "\n".join(f"deleted {n}" for n in d["deleted"])
                  or "nothing to prune")


def _verify_line(m: dict) -> str:
    v = m["verify"]
    s = v["seconds"]
    return (f"{'verified' if v['ok'] else 'VERIFY FAILED'}: {m['name']} — {v['rows']} rows, "
            f"{v['chains_verified']} chains verified; restore {s.get('restore', 0):.2f}s, counts "
            f"{s.get('counts', 0):.2f}s, chains {s.get('chains', 0):.2f}s")
