"""The audit chain: who did what, to what, from where. Always appended through ledger_append."""

from __future__ import annotations

import uuid

from dos.ledger import Appended, ledger_append


def actor_label(actor) -> str:
    """A stable, PII-light label for the chain: user:<id>, apikey:<prefix>, system:<job>."""
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    label = getattr(actor, "audit_label", None)
    if label:
        return label() if callable(label) else label
    if getattr(actor, "pk", None) is not None and hasattr(actor, "email"):
        return f"user:{actor.pk}"
    return str(actor)


def audit_record(*, org_id: uuid.UUID, action: str, actor=None, target: str = "", data: dict | None = None) -> Appended:
    return ledger_append(chain="audit", org_id=org_id, action=action, actor=actor_label(actor),
                         target=target, data=data or {})


def ensure_platform_org() -> None:
    """The org that owns platform-level audit entries (created by a migration; restored if a
    database was flushed). Runs in platform scope."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO tenancy_org (id, slug, name, plan, status, region, ip_allowlist, settings, created_at) "
            "VALUES (%s, '_platform', 'DecisionOS platform', 'enterprise', 'active', 'KR', '[]', '{}', now()) "
            "ON CONFLICT (id) DO NOTHING",
            ["00000000-0000-0000-0000-000000000000"],
        )


def audit_platform_scope_used(*, reason: str, actor=None) -> Appended:
    from tenancy.models import PLATFORM_ORG_ID

    ensure_platform_org()
    return audit_record(org_id=PLATFORM_ORG_ID, action="platform_scope.used", actor=actor,
                        data={"reason": reason[:300]})
