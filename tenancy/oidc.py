"""Browser sign-in through the organisation's OpenID Connect provider (mozilla-django-oidc).

Users are matched by the IdP's ``sub`` (then e-mail), created on first sign-in as staff (the admin
still demands TOTP), and — when OIDC_SYNC_ROLES is on — their memberships follow the
``dos_roles`` claim: a list of ``"<org-slug>:<role>"``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from tenancy.services import membership_sync

User = get_user_model()


class DosOIDCBackend(OIDCAuthenticationBackend):
    def verify_claims(self, claims) -> bool:
        return bool(claims.get("email")) and claims.get("email_verified", True) is not False

    def filter_users_by_claims(self, claims):
        sub = claims.get("sub")
        if sub:
            users = User.objects.filter(oidc_subject=sub)
            if users.exists():
                return users
        return User.objects.filter(email=(claims.get("email") or "").lower())

    def create_user(self, claims):
        user = User.objects.create_user(email=claims["email"].lower(), full_name=claims.get("name", ""),
                                        is_staff=True, oidc_subject=claims.get("sub", ""))
        self._sync(user, claims)
        return user

    def update_user(self, user, claims):
        changed = []
        if claims.get("sub") and user.oidc_subject != claims["sub"]:
            user.oidc_subject = claims["sub"]
            changed.append("oidc_subject")
        if claims.get("name") and user.full_name != claims["name"]:
            user.full_name = claims["name"]
            changed.append("full_name")
        if changed:
            user.save(update_fields=changed)
        self._sync(user, claims)
        return user

    def _sync(self, user, claims) -> None:
        if getattr(settings, "OIDC_SYNC_ROLES", True) and isinstance(claims.get("dos_roles"), list):
            membership_sync(user=user, roles=[str(r) for r in claims["dos_roles"]], actor="system:oidc")
