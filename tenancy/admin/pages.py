"""Back-office pages of tenancy that belong to no model: the org switcher and the plans page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from tenancy.plans import load_plans
from tenancy.selectors import ACTIVE_ORG_SESSION_KEY


def admin_urls(site) -> list:
    def switch_org(request):
        org_id = request.POST.get("org_id", "")
        principal = request.dos_principal
        if request.method == "POST" and principal and org_id in dict(principal.orgs):
            request.session[ACTIVE_ORG_SESSION_KEY] = org_id
            messages.success(request, f"Now working in {dict(principal.orgs)[org_id]}.")
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index")
        return HttpResponseRedirect(target)

    def plans(request):
        context = {**site.each_context(request), "title": "Plans, entitlements and quotas",
                   "plans": list(load_plans().values())}
        return TemplateResponse(request, "admin/dos_plans.html", context)

    return [path("switch-org/", site.admin_view(switch_org), name="switch-org"),
            path("plans/", site.admin_view(plans), name="plans")]
