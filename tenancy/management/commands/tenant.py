from __future__ import annotations

from django.core.management.base import CommandError

from dos import scope
from dos.management.base import DosCommand, add_json_flag
from tenancy import services
from tenancy.models import Org, Project
from tenancy.plans import plan_names
from tenancy.roles import DEFAULT_KEY_SCOPES

BOOTSTRAP_SCOPES = sorted({*DEFAULT_KEY_SCOPES, "project.manage", "keys.manage", "members.manage", "audit.read"})


class Command(DosCommand):
    help = "Create and list tenants (organisations)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True, metavar="{create,list}")
        create = sub.add_parser("create", help="create an org with a default project and a bootstrap API key")
        create.add_argument("--name", required=True, help="display name, e.g. 'Acme Lending'")
        create.add_argument("--plan", default="sandbox", choices=plan_names(), help="plan (default sandbox)")
        create.add_argument("--slug", help="URL name (derived from --name if omitted)")
        create.add_argument("--owner-email", help="make this person the owner (account created if needed)")
        create.add_argument("--no-key", action="store_true", help="do not create the bootstrap API key")
        add_json_flag(create)
        listing = sub.add_parser("list", help="list every org (platform scope, audited)")
        add_json_flag(listing)

    def handle(self, *args, **options):
        return getattr(self, f"do_{options['verb']}")(options)

    def do_create(self, options):
        try:
            org = services.org_create(name=options["name"], plan=options["plan"], slug=options.get("slug"),
                                      owner_email=options.get("owner_email"), actor="system:dosctl")
        except services.TenancyError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
        with scope.org_scope(org.id):
            project = Project.objects.get(org=org, slug="default")
            key = None if options["no_key"] else services.apikey_create(
                project=project, name="bootstrap", scopes=BOOTSTRAP_SCOPES, actor="system:dosctl")
        out = {"org_id": str(org.id), "slug": org.slug, "name": org.name, "plan": org.plan,
               "project_id": str(project.id), "project": project.slug, "api_key": key.secret if key else None,
               "api_key_scopes": key.key.scopes if key else []}
        self.emit(options, out, lambda d: "\n".join([
            f"Created org {d['name']} ({d['slug']}, plan {d['plan']})",
            f"  org id      {d['org_id']}",
            f"  project id  {d['project_id']} (default)",
            *([f"  API key     {d['api_key']}", "              shown once — store it now"] if d["api_key"] else []),
        ]))

    def do_list(self, options):
        with scope.platform_scope(reason="dosctl tenant list"):
            rows = [{"org_id": str(o.id), "slug": o.slug, "name": o.name, "plan": o.plan, "status": o.status,
                     "created_at": o.created_at.isoformat()}
                    for o in Org.objects.exclude(slug="_platform").order_by("name")]
        self.emit(options, rows, lambda rs: "\n".join(
            [f"{'slug':<24} {'plan':<11} {'status':<11} name"] +
            [f"{r['slug']:<24} {r['plan']:<11} {r['status']:<11} {r['name']}" for r in rs]) or "no orgs")
