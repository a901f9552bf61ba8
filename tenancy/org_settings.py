"""Security settings an org chooses for itself, kept in ``Org.settings`` and validated here.

They change only through ``tenancy.services.org_update`` (which audits the new values):

* ``audit_ip_mode`` — how client IP addresses are written to the audit chain: ``full``,
  ``truncated`` (IPv4 /24, IPv6 /48; the default) or ``hashed`` (keyed hash, comparable within
  the org, not reversible without the server's secret).
* ``oidc_require_email_verified`` — SSO sign-in needs the IdP's ``email_verified=true`` claim
  (default on). Turning it off is for IdPs that never send the claim, and is audited.
"""

from __future__ import annotations

from dos.audit import AUDIT_IP_MODES, DEFAULT_IP_MODE

DEFAULTS = {"audit_ip_mode": DEFAULT_IP_MODE, "oidc_require_email_verified": True}
# Settings whose new values go on the audit chain whenever an org's settings are saved.
AUDITED_KEYS = tuple(DEFAULTS)


def org_setting(org_settings: dict | None, key: str):
    """The org's value for ``key``, or the default when unset or (defensively) malformed."""
    value = (org_settings or {}).get(key, DEFAULTS[key])
    return value if not org_settings_errors({key: value}) else DEFAULTS[key]


def org_settings_errors(org_settings) -> list[str]:
    """Messages for the security settings in ``org_settings`` that are not valid (empty if fine)."""
    if not isinstance(org_settings, dict):
        return ["Settings must be a JSON object."]
    errors = []
    mode = org_settings.get("audit_ip_mode", DEFAULTS["audit_ip_mode"])
    if mode not in AUDIT_IP_MODES:
        errors.append(f"audit_ip_mode must be one of {', '.join(AUDIT_IP_MODES)}.")
    if not isinstance(org_settings.get("oidc_require_email_verified", True), bool):
        errors.append("oidc_require_email_verified must be true or false.")
    return errors


def org_settings_audited(org_settings) -> dict:
    """The audited settings' effective values, for the org.updated audit entry."""
    return {key: org_setting(org_settings, key) for key in AUDITED_KEYS}
