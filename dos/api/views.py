"""The base classes every API view derives from (STYLE §2).

They (1) run the whole request in one database transaction, rolled back on any error response, so
a write is all-or-nothing; (2) authenticate, then check the action's permission (fail closed);
(3) call ``enter_scope`` — the single place where the tenant scope for the transaction is set;
subclasses provide ``queryset`` and never override ``get_queryset``.
"""

from __future__ import annotations

from django.db import transaction
from rest_framework import mixins, viewsets
from rest_framework.views import APIView

from dos.api.permissions import ActionPermission


class ScopedViewMixin:
    permission_classes = [ActionPermission]
    permission_map: dict[str, str] = {}

    def dispatch(self, request, *args, **kwargs):
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
            return response

    def get_authenticate_header(self, request):
        # Always challenge with Bearer so a missing credential is a 401, distinct from a 403.
        return super().get_authenticate_header(request) or 'Bearer realm="decisionos"'

    def initial(self, request, *args, **kwargs):
        # DRF authenticates lazily inside initial(); the tenant scope can only be known after it.
        super().initial(request, *args, **kwargs)
        self.enter_scope(request)

    def enter_scope(self, request) -> None:
        """Set the transaction-local tenant scope from the authenticated principal."""
        scope = getattr(request.auth, "enter_scope", None)
        if callable(scope):
            scope()


class DosApiView(ScopedViewMixin, APIView):
    """For endpoints that are operations rather than resources (/decide, /simulate, /me)."""


class DosViewSet(ScopedViewMixin, viewsets.GenericViewSet):
    """Resource endpoints; combine with the DRF mixins for the verbs you offer."""


class DosReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DosViewSet):
    pass
