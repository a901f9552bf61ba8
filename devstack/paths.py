"""Where the embedded services keep their state (all under var/, ignored by git)."""

import json
import os
from pathlib import Path

from dos.files import write_private

REPO = Path(__file__).resolve().parents[1]

# The one file other programs read to find the embedded services (dos/settings.py does, in dev):
# {"database_url": …, "migrate_database_url": …, "redis_url": …}. A file-format contract, so the
# kernel never imports this package.
STATE_FILE = "devstack.json"


def var_dir() -> Path:
    path = Path(os.environ.get("DOS_VAR_DIR", REPO / "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_secret(path: Path, make) -> str:
    """A generated secret kept in var/; an empty or missing file (a killed first run) is made anew."""
    value = path.read_text().strip() if path.exists() else ""
    if not value:
        value = make()
        write_private(path, value)
    return value


def state_update(**values: str) -> None:
    """Merge ``values`` into var/devstack.json (an unreadable file is replaced)."""
    path = var_dir() / STATE_FILE
    try:
        state = json.loads(path.read_text())
        if not isinstance(state, dict):
            state = {}
    except (OSError, ValueError):
        state = {}
    state.update(values)
    write_private(path, json.dumps(state, indent=1))
