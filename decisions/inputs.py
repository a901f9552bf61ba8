"""Input limits before evaluation (SPEC §9 decide path): refuse inputs that are too large or too deep
for a decision, and mask personal data in the snapshot that is stored.

Limits protect the engine and the database (deep nesting would exhaust recursion in validation or
masking; huge strings would bloat every stored snapshot). The PII rules are dos.pii's — the privacy
app extends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dos.errors import FieldErrors
from dos.pii import mask_value

MAX_DEPTH = 8
MAX_KEYS = 200
MAX_ARRAY = 1000
MAX_STRING = 10_000


@dataclass
class GuardResult:
    snapshot: dict
    findings: list[str] = field(default_factory=list)


class InputTooComplex(FieldErrors):
    def __init__(self, path: str, reason: str):
        super().__init__({path: [reason]}, f"{path}: {reason}")


def _check(value, path: str, depth: int, counter: list[int]) -> None:
    if depth > MAX_DEPTH:
        raise InputTooComplex(path, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        counter[0] += len(value)
        if counter[0] > MAX_KEYS:
            raise InputTooComplex(path, f"more than {MAX_KEYS} fields in all")
        for key, item in value.items():
            _check(item, f"{path}.{key}", depth + 1, counter)
    elif isinstance(value, list):
        if len(value) > MAX_ARRAY:
            raise InputTooComplex(path, f"more than {MAX_ARRAY} items")
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1, counter)
    elif isinstance(value, str) and len(value) > MAX_STRING:
        raise InputTooComplex(path, f"longer than {MAX_STRING} characters")


def guard_input(data: dict) -> GuardResult:
    """Raise InputTooComplex, or return the masked snapshot and which kinds of PII were found."""
    _check(data, "input", 0, [0])
    snapshot = mask_value(data)
    findings = sorted({kind for kind in ("RRN", "CARD", "PHONE", "ACCOUNT", "EMAIL")
                       if f"[{kind}" in repr(snapshot)})
    return GuardResult(snapshot=snapshot, findings=findings)
