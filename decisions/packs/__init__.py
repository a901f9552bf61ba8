"""Domain packs: decisions/packs/<domain>/<version>/ with README.md, rules/*.yaml,
reason_codes.yaml, datasets/generate.py and fixtures/expected.yaml."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

PACKS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Pack:
    domain: str
    version: str
    path: Path

    @property
    def rules(self) -> dict[str, str]:
        """Policy name → YAML source, one per rules/*.yaml."""
        return {p.stem: p.read_text(encoding="utf-8") for p in sorted((self.path / "rules").glob("*.yaml"))}

    @property
    def reason_codes(self) -> dict[str, dict]:
        return yaml.safe_load((self.path / "reason_codes.yaml").read_text(encoding="utf-8"))

    @property
    def fixtures(self) -> list[dict]:
        return yaml.safe_load((self.path / "fixtures" / "expected.yaml").read_text(encoding="utf-8"))["cases"]

    def dataset_module(self):
        spec = importlib.util.spec_from_file_location(f"pack_{self.domain}_dataset", self.path / "datasets" / "generate.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def available() -> list[tuple[str, str]]:
    return sorted((p.parent.name, p.name) for p in PACKS_DIR.glob("*/*") if (p / "rules").is_dir())


@cache
def load_pack(domain: str, version: str | None = None) -> Pack:
    versions = sorted(v for d, v in available() if d == domain)
    if not versions:
        raise LookupError(f"No domain pack '{domain}'; available: {', '.join(d for d, _ in available())}")
    chosen = version or versions[-1]
    if chosen not in versions:
        raise LookupError(f"Pack '{domain}' has versions {', '.join(versions)}, not '{chosen}'.")
    return Pack(domain=domain, version=chosen, path=PACKS_DIR / domain / chosen)
