"""Browser sign-in through the organisation's OpenID Connect provider (mozilla-django-oidc).

Who may sign in, in the order it is checked:

1. The IdP must send ``sub`` and ``email``.
2. The account is the one linked to that ``sub``; failing that, the account with that e-mail whose
   link is still empty (the first SSO sign-in links it). An account linked to a *different* ``sub``
   is refused — the provider's subject never changes silently under an existing account.
3. Superusers never sign in through SSO, whether matched by ``sub`` or e-mail: break-glass
   accounts use password + TOTP only.
4. ``email_verified`` must be true, unless every org the person belongs to (or would join through
   the ``dos_roles`` claim) has turned ``oidc_require_email_verified`` off (an audited org setting).

Every refusal is audited (``auth.oidc_refused`` with the reason) and shown on the sign-in page.
New people are created as staff (the admin still demands TOTP, whose first enrolment needs a
one-time token sent by e-mail: tenancy.otp), and — when OIDC_SYNC_ROLES is on — memberships follow
the ``dos_roles`` claim: a list of ``"<org-slug>:<role>"``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from dos import scope
from dos.canonical import sha256_hex
from tenancy.audit_auth import audit_auth_event
from tenancy.org_settings import org_setting
from tenancy.services import membership_sync

User = get_user_model()


class SignInRefused(Exception):
    def __init__(self, reason: str, message: str, user=None):
        super().__init__(message)
        self.reason, self.message, self.user = reason, message, user


def _digest(value: str) -> str:
    return sha256_hex(value)[:16]


def email_is_verified(claims) -> bool:
    # Some providers send the claim as the string "true".
    return claims.get("email_verified") is True or str(claims.get("email_verified")).lower() == "true"


class DosOIDCBackend(OIDCAuthenticationBackend):
    def verify_claims(self, claims) -> bool:
        return bool(claims.get("email")) and bool(claims.get("sub"))

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        try:
            user = self.account_for(claims)
        except SignInRefused as refusal:
            self._refused(refusal, claims)
            return None
        return self.update_user(user, claims) if user is not None else self.create_user(claims)

    def account_for(self, claims):
        """The existing account these claims sign in to (None: a new person), or SignInRefused."""
        if not self.verify_claims(claims):
            raise SignInRefused("claims_missing", "The identity provider did not send an e-mail address and subject.")
        sub, email = str(claims["sub"]), str(claims["email"]).strip().lower()
        user = User.objects.filter(oidc_subject=sub).first()
        if user is None:
            user = User.objects.filter(email__iexact=email).first()
            if user is not None and user.oidc_subject and user.oidc_subject != sub:
                raise SignInRefused(
                    "subject_mismatch",
                    "This e-mail address belongs to an account linked to a different identity at your provider. "
                    "Nothing was changed; ask your DecisionOS administrator to check the account.", user)
        if user is not None and user.is_superuser:
            raise SignInRefused("superuser", "Break-glass accounts sign in with their password and TOTP code, "
                                             "never through SSO.", user)
        if not email_is_verified(claims) and not self._unverified_email_allowed(user, claims):
            raise SignInRefused("email_unverified",
                                "Your identity provider has not verified your e-mail address; verify it there and "
                                "sign in again.", user)
        return user

    def _unverified_email_allowed(self, user, claims) -> bool:
        """Only when every org involved has turned the requirement off (and there is at least one)."""
        from tenancy.models import Membership, Org

        slugs = {str(r).partition(":")[0] for r in claims.get("dos_roles") or [] if isinstance(r, str)}
        with scope.platform_scope(reason="oidc: unverified e-mail, reading the orgs' sign-in settings",
                                  actor="system:oidc"):
            org_ids = set(Membership.objects.filter(user=user).values_list("org_id", flat=True)) if user else set()
            orgs = list(Org.objects.filter(slug__in=slugs) | Org.objects.filter(id__in=org_ids))
        return bool(orgs) and not any(org_setting(org.settings, "oidc_require_email_verified") for org in orgs)

    def _refused(self, refusal: SignInRefused, claims) -> None:
        audit_auth_event(user=refusal.user, action="auth.oidc_refused", request=self.request,
                         data={"reason": refusal.reason, "sub_sha256": _digest(str(claims.get("sub") or "")),
                               "email_sha256": _digest(str(claims.get("email") or "").strip().lower())})
        if self.request is not None and hasattr(self.request, "_messages"):
            messages.error(self.request, refusal.message)

    def create_user(self, claims):
        user = User.objects.create_user(email=claims["email"].strip().lower(), full_name=claims.get("name", ""),
                                        oidc_subject=str(claims["sub"]))  # access comes from memberships
        self._sync(user, claims)
        self._note_unverified(user, claims)
        return user

    def update_user(self, user, claims):
        changed = []
        if not user.oidc_subject:
            # First SSO sign-in of an account that was invited by e-mail: link it to this subject.
            user.oidc_subject = str(claims["sub"])
            changed.append("oidc_subject")
        if claims.get("name") and user.full_name != claims["name"]:
            user.full_name = claims["name"]
            changed.append("full_name")
        if changed:
            user.save(update_fields=changed)
        if "oidc_subject" in changed:
            audit_auth_event(user=user, action="auth.oidc_linked", request=self.request,
                             data={"sub_sha256": _digest(user.oidc_subject)})
        self._sync(user, claims)
        self._note_unverified(user, claims)
        return user

    def _note_unverified(self, user, claims) -> None:
        if not email_is_verified(claims):
            audit_auth_event(user=user, action="auth.oidc_unverified_email_accepted", request=self.request,
                             data={"setting": "oidc_require_email_verified=false"})

    def _sync(self, user, claims) -> None:
        if getattr(settings, "OIDC_SYNC_ROLES", True) and isinstance(claims.get("dos_roles"), list):
            membership_sync(user=user, roles=[str(r) for r in claims["dos_roles"]], actor="system:oidc")
