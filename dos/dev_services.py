"""Where `make run` left the embedded services, for settings in dev.

devstack writes ``var/devstack.json`` (0600: the URLs carry generated passwords) whenever it starts
or reuses the embedded PostgreSQL and Redis; this reads it with plain json so that the kernel never
imports the development tooling. A missing, unreadable or half-written file means "nothing known".
"""

from __future__ import annotations

import json
from pathlib import Path

STATE_FILE = "devstack.json"
KEYS = ("database_url", "migrate_database_url", "redis_url")


def dev_services(var_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((Path(var_dir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: data[key] for key in KEYS if isinstance(data.get(key), str) and data[key]}
