"""Scope for browser requests (admin and account pages).

The whole request — view *and* template rendering, which Django admin does lazily — runs in one
transaction scoped to the user's active org. Platform staff (and break-glass superusers) work in
platform scope, and each such request is written to the audit chain.
"""

from __future__ import annotations

from django.db import transaction

from dos import scope
from tenancy.selectors import browser_principal

SCOPED_PREFIXES = ("/admin/", "/account/")


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
                    response = self.get_response(request)
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()  # render inside the scope
                return response
            finally:
                scope.reset()
