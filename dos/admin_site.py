"""The back office: Django admin with TOTP for everyone, tenant scoping and break-glass login.

People sign in with the organisation's IdP (OIDC) and then prove a TOTP code. The password form on
the login page exists only for break-glass superusers, and it asks for a TOTP code too.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


class BreakGlassLoginForm(OTPAdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        if not user.is_superuser:
            raise ValidationError(
                "Password login is reserved for break-glass superusers. Use “Sign in with SSO”.",
                code="sso_required",
            )
        super().confirm_login_allowed(user)


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
        return [
            path("switch-org/", self.admin_view(self.switch_org), name="switch-org"),
            path("plans/", self.admin_view(self.plans_view), name="plans"),
            *super().get_urls(),
        ]

    def switch_org(self, request):
        from tenancy.selectors import ACTIVE_ORG_SESSION_KEY

        org_id = request.POST.get("org_id", "")
        principal = request.dos_principal
        if request.method == "POST" and principal and org_id in dict(principal.orgs):
            request.session[ACTIVE_ORG_SESSION_KEY] = org_id
            messages.success(request, f"Now working in {dict(principal.orgs)[org_id]}.")
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index")
        return HttpResponseRedirect(target)

    def plans_view(self, request):
        from tenancy.plans import load_plans

        context = {**self.each_context(request), "title": "Plans, entitlements and quotas",
                   "plans": list(load_plans().values())}
        return TemplateResponse(request, "admin/dos_plans.html", context)


def _oidc_enabled() -> bool:
    from django.conf import settings

    return bool(getattr(settings, "OIDC_RP_CLIENT_ID", ""))
