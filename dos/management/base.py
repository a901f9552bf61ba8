"""Base for dosctl commands: a --json flag, one way to print results, non-zero exit on failure."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError

from dos.hooks import Hook


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_actor_flag(parser, *, required: bool = False) -> None:
    parser.add_argument("--as", dest="actor", metavar="EMAIL", required=required,
                        help="act as this member, with exactly their permissions"
                             + ("" if required else " (default: the operator at this shell, 'system:dosctl')"))


class DosCommand(BaseCommand):
    requires_system_checks: list = []

    def execute(self, *args, **options):
        from dos.authz import PermissionRefused
        from dos.errors import DomainError

        try:
            return super().execute(*args, **options)
        except PermissionRefused as exc:
            raise CommandError(f"Not allowed: {exc}") from exc
        except DomainError as exc:  # every service refusal ends the command with its message
            raise CommandError(str(exc)) from exc

    def add_arguments(self, parser) -> None:
        add_json_flag(parser)

    @contextlib.contextmanager
    def org_scope(self, options: dict):
        """The one place a command scopes itself: ``--org`` (slug or id) resolved, the block run in
        that org's scope (one transaction), the org yielded."""
        from dos import scope

        org = resolve_org(options["org"])
        with scope.org_scope(org.id):
            yield org

    def emit(self, options: dict, data, human: Callable[[object], str] | str | None = None) -> None:
        if options.get("json"):
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        elif callable(human):
            self.stdout.write(human(data))
        elif human is not None:
            self.stdout.write(human)
        else:
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# tenancy plugs in ``fn(value) -> org | None`` (slug or id, read in platform scope).
org_resolver = Hook("dos.org_resolver", single=True)


def resolve_org(value: str):
    """An org by slug or id, for commands that take --org."""
    org = org_resolver.one(value)
    if org is None:
        raise CommandError(f"No organisation '{value}' (give its slug or id; see 'dosctl tenant list').")
    return org


def is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def parse_when(value: str | None, default):
    """An ISO date or timestamp from a command-line option (UTC when no zone is given)."""
    import datetime as dt

    from django.core.management.base import CommandError
    from django.utils.dateparse import parse_datetime

    if not value:
        return default
    parsed = parse_datetime(value)
    if parsed is None:
        try:
            parsed = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
        except ValueError:
            raise CommandError(f"'{value}' is not an ISO date or timestamp.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
