"""`dosctl`: DecisionOS operations from the shell.

Each group is a Django management command (``manage.py <group> …`` works too); dosctl shows them
by domain, sets up Django and passes the arguments on. Every command accepts ``--json`` and exits
non-zero on failure.
"""

from __future__ import annotations

import os
import socket
import sys

# group → (management command, one-line help). Apps add their groups here as they land.
GROUPS: dict[str, tuple[str, str]] = {
    "status": ("status", "versions, database role and RLS safety, migrations, Redis, Celery workers"),
    "tenant": ("tenant", "create an org (default project + bootstrap API key), list orgs"),
    "apikey": ("apikey", "create, list and revoke API keys of a project"),
    "audit": ("audit", "verify the hash chains (names the first broken entry), list entries"),
    "backup": ("backup", "back up the database and media, rehearse restores, restore, prune"),
    "usage": ("usage", "show usage, run or backfill rollups, reconcile metered vs observed"),
    "billing": ("billing", "close a month into invoice drafts, issue them, show an invoice, credit one"),
    "ledger": ("ledger", "subledger: a month's trial balance, usage ↔ invoice drift, CSV/XLSX exports, reversals"),
    "policy": ("policy", "install a pack, lint, eval, simulate; submit, approve, publish, rollback versions"),
    "decision": ("decision", "replay or explain a recorded decision"),
    "hitl": ("hitl", "review desk: list queues, act on a case, SLA and throughput report"),
    "scale": ("scale", "sharding: print the Citus distribution plan derived from the models"),
    "vault": ("vault", "vault keys: keystore status, add and promote KEK versions; KEK rotations of an org"),
    "privacy": ("privacy", "data subject requests (submit, verify, run, export), retention runs, legal holds"),
}

USAGE = """usage: dosctl <group> [subcommand] [options]

DecisionOS operations. Every command takes --json for machine-readable output and exits
non-zero on failure. Settings come from the environment (DATABASE_URL, REDIS_URL, …); in
development, unset, they name the servers `make run` started (var/devstack.json).

groups:
{groups}

Run 'dosctl <group> --help' for a group's subcommands and options.
"""


def _usage() -> str:
    width = max(len(name) for name in GROUPS)
    rows = "\n".join(f"  {name.ljust(width)}  {text}" for name, (_cmd, text) in GROUPS.items())
    return USAGE.format(groups=rows)


# Subcommands that work on files only: they run without a database.
OFFLINE = {("policy", "lint"), ("policy", "eval"), ("policy", "simulate"), ("scale", "plan"), ("vault", "keystore")}


def database_unreachable() -> str | None:
    """One line naming the database and the fix when nothing listens there, else None."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    host, port = db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)
    try:
        socket.create_connection((host, port), timeout=2).close()
        return None
    except OSError:
        pass
    if os.environ.get("DATABASE_URL"):
        return f"The database at {host}:{port} is not reachable: check DATABASE_URL or start the server."
    return f"The database at {host}:{port} is not running: start it with `make run` (or set DATABASE_URL)."


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    group, rest = argv[0], argv[1:]
    if group not in GROUPS:
        print(f"dosctl: unknown group '{group}'\n", file=sys.stderr)
        print(_usage(), file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dos.settings")
    import django
    from django.core.management import get_commands, load_command_class
    from django.db import OperationalError

    django.setup()
    wants_help = any(arg in ("-h", "--help") for arg in rest)
    if not wants_help and (group, rest[0] if rest else "") not in OFFLINE and (down := database_unreachable()):
        print(down, file=sys.stderr)
        return 1
    command_name = GROUPS[group][0]
    command = load_command_class(get_commands()[command_name], command_name)
    try:
        command.run_from_argv(["dosctl", group, *rest])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except OperationalError as exc:  # the server went away, or refused the credentials
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(database_unreachable() or f"The database refused the connection: {first}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
