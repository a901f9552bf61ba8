"""DRF authentication: API keys (`Authorization: Bearer dos_<prefix>_<secret>`) and admin sessions.

Both run inside the request's transaction (dos.api.views), so the narrow pre-scope reads they
need — the key row for the presented prefix, the user's own memberships — are allowed by the RLS
policies only for this transaction.
"""

from __future__ import annotations

import hmac
import re
from datetime import timedelta

from django.db import InternalError, transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from dos import scope
from dos.api.errors import Problem, is_read_only_error
from dos.canonical import sha256_hex
from dos.sqlbatch import hydrate, select_columns
from tenancy.models import ApiKey, Org, Project
from tenancy.principals import ApiKeyPrincipal, UserPrincipal
from tenancy.selectors import browser_principal

KEY_RE = re.compile(r"^dos_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
LAST_USED_GRANULARITY = timedelta(seconds=60)

_KEY_SQL = f"SELECT {select_columns(ApiKey)} FROM tenancy_apikey WHERE prefix = %s"
_ORG_SQL = f"SELECT {select_columns(Org)} FROM tenancy_org WHERE id = %s"
# The key's project (or the org's default one) when it is active: the project the call acts in.
_PROJECT_SQL = (f"SELECT {select_columns(Project)} FROM tenancy_project "
                "WHERE org_id = %s AND {filter} AND archived_at IS NULL")


def hash_secret(secret: str) -> str:
    # Secrets are 256 random bits: a fast hash is safe (no dictionary to attack) and keeps auth cheap.
    return sha256_hex(secret)


def client_ip(request) -> str | None:
    # Behind a proxy, configure it to set REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips);
    # X-Forwarded-For is never trusted here because a caller could forge it.
    return request.META.get("REMOTE_ADDR")


def authorization_parts(request) -> list[str]:
    """The Authorization header split on spaces and tabs (RFC 9110 whitespace; a no-break space is
    not a separator). Anything that is not ISO-8859-1 text is refused as a 401, never a 500."""
    raw = request.META.get("HTTP_AUTHORIZATION", "")
    try:
        header = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
        header.encode("latin-1")
    except UnicodeError:
        raise exceptions.AuthenticationFailed(
            code="invalid_api_key", detail="The Authorization header must be ISO-8859-1 text.") from None
    return [part for part in re.split(r"[ \t]+", header.strip(" \t")) if part]


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate_header(self, request):
        return 'Bearer realm="decisionos"'

    def authenticate(self, request):
        parts = authorization_parts(request)
        if not parts or parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                code="invalid_api_key", detail="Send exactly 'Authorization: Bearer dos_<prefix>_<secret>'.")
        match = KEY_RE.fullmatch(parts[1])
        if not match:
            raise exceptions.AuthenticationFailed(code="invalid_api_key", detail="That is not a DecisionOS API key.")
        prefix, secret = match.groups()
        # Two round trips in all: (reveal the prefix, read its keys), then (scope to the key's org,
        # read the org and the key's project). Authentication runs on every API call.
        (rows,) = scope.reveal_key_prefix(prefix, then=[(_KEY_SQL, [prefix])])
        presented = hash_secret(secret)
        key = next((k for k in (hydrate(ApiKey, row) for row in rows)
                    if hmac.compare_digest(k.secret_hash, presented)), None)
        if key is None:
            raise exceptions.AuthenticationFailed(code="invalid_api_key", detail="Unknown API key.")
        if key.revoked_at:
            raise exceptions.AuthenticationFailed(code="api_key_revoked", detail=f"API key dos_{prefix}_… was revoked.")
        now = timezone.now()
        if key.expires_at and key.expires_at <= now:
            raise exceptions.AuthenticationFailed(
                code="api_key_expired", detail=f"API key dos_{prefix}_… expired at {key.expires_at.isoformat()}.")
        project_filter = ("id = %s", key.project_id) if key.project_id else ("slug = %s", "default")
        org_rows, project_rows = scope.read_as_org(key.org_id, [
            (_ORG_SQL, [key.org_id]),
            (_PROJECT_SQL.format(filter=project_filter[0]), [key.org_id, project_filter[1]]),
        ])
        org = hydrate(Org, org_rows[0])
        # The org's status (suspended, frozen, restricted) is decided after authentication, for keys
        # and sessions alike, by tenancy.status.org_allows (the API base view's request check).
        ip = client_ip(request)
        if not org.ip_allowed(ip):
            raise Problem(403, "ip_not_allowed", f"Calls from {ip} are outside the organisation's IP allowlist.")
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY:
            try:  # a savepoint: on a read-only database the note is skipped and reads go on
                with scope.org_scope(key.org_id), transaction.atomic():  # at most once a minute per key
                    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            except InternalError as exc:
                if not is_read_only_error(exc):
                    raise
        project = hydrate(Project, project_rows[0]) if project_rows else None
        principal = ApiKeyPrincipal(key=key, org=org, project=project)
        return principal, principal


class AdminSessionAuthentication(authentication.SessionAuthentication):
    """Browser users (OIDC + TOTP) calling the API from the admin: CSRF enforced, one org."""

    def authenticate(self, request):
        user = getattr(request._request, "user", None)
        if not user or not user.is_active or not user.is_authenticated:
            return None
        self.enforce_csrf(request)
        if not getattr(user, "is_verified", lambda: False)():
            raise exceptions.AuthenticationFailed("Complete the TOTP step first.", code="otp_required")
        browser = browser_principal(request._request)
        if browser is None or browser.platform:
            # The tenant API always acts in one org; platform staff use the admin or dosctl.
            raise exceptions.PermissionDenied("The API acts within one organisation you are a member of.")
        with scope.org_scope(browser.org_id):
            org = Org.objects.get(id=browser.org_id)
        principal = UserPrincipal(user=user, org=org, permissions=browser.permissions)
        return principal, principal
