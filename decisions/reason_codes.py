"""Customer-facing reason texts. System defaults come from every domain pack's reason_codes.yaml;
an org overrides them with ReasonCode rows (back office: Reason codes)."""

from __future__ import annotations

from functools import cache

from decisions.packs import available, load_pack


@cache
def system_reason_codes() -> dict[str, dict]:
    codes: dict[str, dict] = {}
    for domain, version in available():
        codes.update(load_pack(domain, version).reason_codes)
    return codes


def reason_text(code: str, *, org=None, fallback: str = "") -> dict:
    from decisions.models import ReasonCode

    entry = dict(system_reason_codes().get(code, {}))
    if org is not None:
        override = ReasonCode.objects.filter(org_id=org.id, code=code).values("ko", "en", "category").first()
        if override:
            entry.update({k: v for k, v in override.items() if v})
    return {"code": code, "category": entry.get("category", "other"), "ko": entry.get("ko", fallback),
            "en": entry.get("en", fallback)}
