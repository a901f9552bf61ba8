"""Seed the demo data for `make run`, idempotently, and write the run banner lines to var/demo.json.

Each app registers its step on ``dos.demo.demo_steps`` in its AppConfig.ready().
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

from dos.demo import run_seed_steps, write_private
from dos.management.base import DosCommand


class Command(DosCommand):
    help = "Create or refresh the demo tenant data used by `make run` (safe to run repeatedly)."

    def handle(self, *args, **options):
        if settings.DJANGO_ENV == "prod":
            raise SystemExit("demo_seed refuses to run with DJANGO_ENV=prod")
        banner = run_seed_steps()
        write_private(Path(settings.VAR_DIR) / "demo.json", json.dumps({"banner": banner}, ensure_ascii=False, indent=2))
        self.emit(options, {"banner": banner}, "\n".join(banner))
