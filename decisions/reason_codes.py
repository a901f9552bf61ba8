"""Customer-facing reason texts. System defaults come from every domain pack's reason_codes.yaml;
an org may override a text in Org.settings["reason_codes"][CODE] = {"ko": …, "en": …}."""

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
    entry = dict(system_reason_codes().get(code, {}))
    override = ((getattr(org, "settings", None) or {}).get("reason_codes") or {}).get(code) or {}
    entry.update({k: v for k, v in override.items() if k in ("ko", "en", "category")})
    return {"code": code, "category": entry.get("category", "other"), "ko": entry.get("ko", fallback),
            "en": entry.get("en", fallback)}
