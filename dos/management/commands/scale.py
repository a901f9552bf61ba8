"""``dosctl scale plan``: the Citus statements that shard this schema, from the model registry."""

from __future__ import annotations

from django.core.management.base import CommandError

from dos.management.base import DosCommand


class Command(DosCommand):
    help = "Sharding (Citus): print the distribution plan derived from the models."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True, metavar="{plan}")
        plan = sub.add_parser("plan", help="print create_distributed_table / create_reference_table for every "
                                           "table (reads the model registry only; no database, no org scope)")
        plan.add_argument("--format", choices=("sql", "json"), default="sql")
        plan.add_argument("--json", action="store_true", help="the same as --format json")

    def handle(self, *args, **options):
        return getattr(self, f"do_{options['verb']}")(options)

    def do_plan(self, options):
        from dos.scale import PlanError, distribution_plan

        try:
            plan = distribution_plan()
        except PlanError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"] or options["format"] == "json":
            self.emit({"json": True}, plan.as_dict())
        else:
            self.stdout.write(plan.as_sql())
