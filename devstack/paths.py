"""Where the embedded services keep their state (all under var/, ignored by git)."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def var_dir() -> Path:
    path = Path(os.environ.get("DOS_VAR_DIR", REPO / "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
