from __future__ import annotations

from django.core.management.base import CommandError
from django.utils.dateparse import parse_datetime

from dos.management.base import DosCommand, add_actor_flag, add_json_flag
from tenancy import services
from tenancy.models import ApiKey
from tenancy.principals import command_actor
from tenancy.roles import DEFAULT_KEY_SCOPES
from tenancy.selectors import project_by_slug_or_id


class Command(DosCommand):
    help = "Create and revoke API keys of a project."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True, metavar="{create,revoke,list}")
        create = sub.add_parser("create", help="create a key (the secret is printed once)")
        create.add_argument("--org", required=True, help="org slug or id")
        create.add_argument("--project", default="default", help="project slug or id (default: default)")
        create.add_argument("--name", required=True)
        create.add_argument("--scopes", default=",".join(DEFAULT_KEY_SCOPES),
                            help=f"comma-separated permissions (default {','.join(DEFAULT_KEY_SCOPES)})")
        create.add_argument("--expires-at", help="ISO timestamp, e.g. 2027-06-30T18:00:00+09:00")
        add_actor_flag(create)
        add_json_flag(create)
        revoke = sub.add_parser("revoke", help="revoke a key by its prefix")
        revoke.add_argument("--org", required=True)
        revoke.add_argument("--prefix", required=True, help="the 12 hex characters after dos_")
        revoke.add_argument("--reason", default="revoked with dosctl")
        add_actor_flag(revoke)
        add_json_flag(revoke)
        listing = sub.add_parser("list", help="list keys of an org")
        listing.add_argument("--org", required=True)
        add_json_flag(listing)

    def handle(self, *args, **options):
        with self.org_scope(options) as org:
            return getattr(self, f"do_{options['verb']}")(org, options)

    def do_create(self, org, options):
        project = project_by_slug_or_id(org, options["project"])
        if project is None:
            raise CommandError(f"No project '{options['project']}' in {org.slug}.")
        expires_at = parse_datetime(options["expires_at"]) if options.get("expires_at") else None
        if options.get("expires_at") and expires_at is None:
            raise CommandError("--expires-at is not an ISO timestamp.")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            created = services.apikey_create(project=project, name=options["name"], scopes=scopes,
                                             expires_at=expires_at,
                                             actor=command_actor(org, options.get("actor")))
        except services.TenancyError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
        out = {"id": str(created.key.id), "prefix": created.key.prefix, "api_key": created.secret,
               "scopes": created.key.scopes, "project": project.slug}
        self.emit(options, out, lambda d: f"{d['api_key']}\n(shown once; scopes: {', '.join(d['scopes'])})")

    def do_revoke(self, org, options):
        key = ApiKey.objects.filter(org=org, prefix=options["prefix"]).first()
        if key is None:
            raise CommandError(f"No key dos_{options['prefix']}_… in {org.slug}.")
        services.apikey_revoke(key=key, actor=command_actor(org, options.get("actor")), reason=options["reason"])
        self.emit(options, {"prefix": key.prefix, "state": key.state}, f"Revoked dos_{key.prefix}_…")

    def do_list(self, org, options):
        rows = [{"prefix": k.prefix, "name": k.name, "project": k.project.slug, "state": k.state, "scopes": k.scopes,
                 "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None}
                for k in ApiKey.objects.filter(org=org).select_related("project").order_by("-created_at")]
        self.emit(options, rows, lambda rs: "\n".join(
            f"dos_{r['prefix']}_…  {r['state']:<8} {r['project']:<12} {r['name']}" for r in rs) or "no keys")
