"""Scope for browser requests (admin and account pages).

The whole request — view *and* template rendering, which Django admin does lazily — runs in one
transaction scoped to the user's active org. Platform staff (and break-glass superusers) work in
platform scope, and each such request is written to the audit chain.

The org's status applies here too (tenancy.status.org_allows): a frozen org's admin is read-only,
a suspended org's members reach nothing but the owner's billing pages, a restricted org cannot add
keys, projects, members or policies. Signing out and the account pages always work.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.http import HttpResponseForbidden
from django.utils.html import escape

from dos import scope
from tenancy.choices import OrgRole, OrgStatus
from tenancy.selectors import browser_principal
from tenancy.status import BROWSER, org_allows

SCOPED_PREFIXES = ("/admin/", "/account/")
# Personal pages that work whatever the org's status: signing in (TOTP), out, and one's own sessions.
ALWAYS_OPEN_PREFIXES = ("/account/", "/admin/logout/")
BILLING_PREFIX = "/admin/billing/"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_ADD_PAGE = re.compile(r"^/admin/(?P<app>[a-z_]+)/(?P<model>[a-z_]+)/add/$")
# Admin add pages that grow the org: what ``restricted`` pauses (the primitive each needs).
GROWTH_ADDS = {"tenancy.apikey": "keys.manage", "tenancy.project": "project.manage",
               "tenancy.membership": "members.manage", "decisions.policyset": "policy.write",
               "decisions.policyversion": "policy.write"}


def _status_refusal(request, principal):
    """The org-status refusal for this browser request, or None."""
    from tenancy.models import Membership, Org

    if request.path.startswith(ALWAYS_OPEN_PREFIXES):
        return None
    status = Org.objects.filter(id=principal.org_id).values_list("status", flat=True).first()
    if status is None or status == OrgStatus.ACTIVE:
        return None
    write = request.method not in SAFE_METHODS
    billing = request.path.startswith(BILLING_PREFIX)
    owner = billing and Membership.objects.filter(org_id=principal.org_id, user=principal.user,
                                                  role=OrgRole.OWNER).exists()
    permission, action = "", ""
    add = _ADD_PAGE.match(request.path)
    if write and add:
        permission, action = GROWTH_ADDS.get(f"{add['app']}.{add['model']}", ""), "create"
    return org_allows(status, write=write, surface=BROWSER, permission=permission, action=action,
                      billing=billing, owner=owner)


def _refused(refusal) -> HttpResponseForbidden:
    response = HttpResponseForbidden(
        f"<!doctype html><title>Not allowed</title><h1>Not allowed</h1><p>{escape(refusal.detail)}</p>"
        f'<p><a href="{BILLING_PREFIX}">Billing</a> · <a href="/admin/logout/">Sign out</a></p>')
    response["X-Org-Status"] = refusal.code
    return response


class BrowserScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.dos_principal = None
        user = getattr(request, "user", None)
        if not request.path.startswith(SCOPED_PREFIXES) or not user or not user.is_authenticated:
            return self.get_response(request)
        with transaction.atomic():
            principal = browser_principal(request)
            request.dos_principal = principal
            try:
                if principal is None:
                    return self.get_response(request)
                if principal.platform:
                    with scope.platform_scope(reason=f"admin {request.method} {request.path}"[:300], actor=user):
                        response = self.get_response(request)
                else:
                    scope.enter_org_scope(principal.org_id)
                    refusal = _status_refusal(request, principal)
                    if refusal is not None:
                        return _refused(refusal)
                    response = self.get_response(request)
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()  # render inside the scope
                return response
            finally:
                scope.reset()
