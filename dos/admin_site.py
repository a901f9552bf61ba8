"""The back office: Django admin with TOTP for everyone, tenant scoping and break-glass login.

People sign in with the organisation's IdP (OIDC) and then prove a TOTP code. The password form on
the login page exists only for break-glass superusers, and it asks for a TOTP code too.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from dos.hooks import Hook


class BreakGlassLoginForm(OTPAdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        if not user.is_superuser:
            raise ValidationError(
                "Password login is reserved for break-glass superusers. Use “Sign in with SSO”.",
                code="sso_required",
            )
        super().confirm_login_allowed(user)


# Apps add back-office pages that are not a model's (``fn(site) -> [path(…), …]``), e.g. tenancy's
# org switcher and plans page.
admin_views = Hook("dos.admin_views")


class DosAdminSite(OTPAdminSite):
    site_header = "DecisionOS back office"
    site_title = "DecisionOS"
    index_title = "Work"
    login_form = BreakGlassLoginForm
    login_template = "admin/dos_login.html"

    def __init__(self, name="admin"):
        super().__init__(name)

    def has_permission(self, request):
        # The back office is for members of an org and platform staff (a principal exists), who have
        # proved TOTP. ``is_staff`` grants nothing by itself: adding someone to an org must not turn
        # an arbitrary address into back-office staff, and leaving the org ends their access.
        user = request.user
        return (user.is_active and user.is_authenticated and user.is_verified()
                and getattr(request, "dos_principal", None) is not None)

    def login(self, request, extra_context=None):
        user = request.user
        if user.is_authenticated and not user.is_verified():
            target = request.GET.get("next") or reverse("admin:index")
            return redirect(f"{reverse('account-otp')}?next={target}")
        context = {"oidc_enabled": _oidc_enabled(), **(extra_context or {})}
        return super().login(request, extra_context=context)

    def each_context(self, request):
        context = super().each_context(request)
        principal = getattr(request, "dos_principal", None)
        context["dos_principal"] = principal
        if principal is not None and not principal.platform:
            context["dos_org_name"] = dict(principal.orgs).get(str(principal.org_id), "")
            context["dos_inbox"] = principal.has_perm("hitl.review")
        return context

    def get_urls(self):
        extra = [url for contribute in admin_views.handlers for url in contribute(self)]
        return [*extra, *super().get_urls()]


def _oidc_enabled() -> bool:
    from django.conf import settings

    return bool(getattr(settings, "OIDC_RP_CLIENT_ID", ""))
