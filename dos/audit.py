"""The audit chain: who did what, to what, from where. Always appended through ledger_append.

``audit_record`` is the one front door, and chained rows can never be redacted later, so it masks
before appending: every string, dict key and identifier-shaped number in ``data`` and ``target``
goes through ``dos.pii.mask_deep`` (file names included), and a client IP is written as the org's
``audit_ip_mode`` says — ``full``, ``truncated`` (IPv4 /24, IPv6 /48; the default) or ``hashed``
(HMAC-SHA256 keyed by the server's secret and the org, so equal addresses compare equal within one
org and nowhere else).
"""

from __future__ import annotations

import ipaddress
import uuid

from django.db import connection
from django.utils.crypto import salted_hmac

from dos.hooks import Hook
from dos.ledger import Appended, ledger_append
from dos.pii import mask_deep

AUDIT_IP_MODES = ("full", "truncated", "hashed")
DEFAULT_IP_MODE = "truncated"
IP_KEYS = ("ip", "client_ip")


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


def audit_record(*, org_id: uuid.UUID, action: str, actor=None, target: str = "", data: dict | None = None,
                 ip: str | None = None) -> Appended:
    """Append to the org's audit chain, masked (see the module docstring). Pass the caller's address
    as ``ip``; an ``ip``/``client_ip`` key in ``data`` is treated the same way."""
    data = dict(data or {})
    if ip is not None:
        data["ip"] = ip
    addresses = {key: data.pop(key) for key in IP_KEYS if key in data}
    data = mask_deep(data)
    if any(addresses.values()):
        mode = audit_ip_mode(org_id)
        data |= {key: ip_for_chain(value, mode=mode, org_id=org_id) for key, value in addresses.items()}
        data["ip_mode"] = mode
    else:
        data |= addresses
    return ledger_append(chain="audit", org_id=org_id, action=action, actor=actor_label(actor),
                         target=mask_deep(target or ""), data=data)


def audit_ip_mode(org_id) -> str:
    """The org's ``audit_ip_mode`` setting (validated by tenancy's org_update), or the default."""
    with connection.cursor() as cur:
        cur.execute("SELECT settings->>'audit_ip_mode' FROM tenancy_org WHERE id = %s", [org_id])
        row = cur.fetchone()
    mode = row[0] if row else None
    return mode if mode in AUDIT_IP_MODES else DEFAULT_IP_MODE


def ip_for_chain(value, *, mode: str, org_id) -> str | None:
    """A client address as the chain keeps it under ``mode``; anything unparseable is never kept."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return "unparseable"
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if mode == "full":
        return str(address)
    if mode == "hashed":
        digest = salted_hmac(f"dos.audit.ip:{org_id}", str(address), algorithm="sha256").hexdigest()
        return f"hmac-sha256:{digest[:32]}"
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


# The org that owns platform-level audit entries (its row belongs to tenancy, which registers
# ``platform_org_ensure`` to create it when a database was flushed).
PLATFORM_ORG_ID = uuid.UUID(int=0)
platform_org_ensure = Hook("dos.platform_org_ensure", single=True)


def audit_platform_scope_used(*, reason: str, actor=None) -> Appended:
    if platform_org_ensure:
        platform_org_ensure.one()
    return audit_record(org_id=PLATFORM_ORG_ID, action="platform_scope.used", actor=actor,
                        data={"reason": reason[:300]})
