"""The base classes every API view derives from (STYLE §2).

They (1) run the whole request in one database transaction, rolled back on any error response, so
a write is all-or-nothing even when a view writes before it validates; (2) authenticate, then check
the action's permission (fail closed); (3) call ``enter_scope`` — the single place where the tenant
scope for the transaction is set; (4) honour ``Idempotency-Key`` on writes. Resource viewsets
provide ``queryset`` (and ``parent_filters`` for nested routes) and never override ``get_queryset``.
"""

from __future__ import annotations

from django.db import transaction
from rest_framework import mixins, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from dos import scope
from dos.api.permissions import ActionPermission
from dos.idempotency import HEADER, WRITE_METHODS, Pending, Replay, idempotency_begin, idempotency_complete


class _Replayed(Exception):
    def __init__(self, replay: Replay):
        self.replay = replay


class ScopedViewMixin:
    permission_classes = [ActionPermission]
    permission_map: dict[str, str] = {}
    _idempotency: Pending | None = None

    def dispatch(self, request, *args, **kwargs):
        try:
            with transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)
                if response.status_code >= 400:
                    transaction.set_rollback(True)
        finally:
            # Normally the commit above ended the transaction and its settings; when the request
            # ran inside an outer transaction, close the scope explicitly.
            scope.reset()
        return response

    def get_authenticate_header(self, request):
        # Always challenge with Bearer so a missing credential is a 401, distinct from a 403.
        return super().get_authenticate_header(request) or 'Bearer realm="decisionos"'

    def initial(self, request, *args, **kwargs):
        # DRF authenticates lazily inside initial(); the tenant scope can only be known after it.
        super().initial(request, *args, **kwargs)
        self.enter_scope(request)
        self._begin_idempotency(request)

    def enter_scope(self, request) -> None:
        """Set the transaction-local tenant scope from the authenticated principal."""
        enter = getattr(request.auth, "enter_scope", None)
        if callable(enter):
            enter()

    def _begin_idempotency(self, request) -> None:
        key = request.headers.get(HEADER)
        org_id = scope.current_org_id()
        if not key or request.method not in WRITE_METHODS or org_id is None:
            return
        outcome = idempotency_begin(org_id=org_id, key=key, method=request.method, path=request.path,
                                    body=request._request.body)
        if isinstance(outcome, Replay):
            raise _Replayed(outcome)
        self._idempotency = outcome

    def handle_exception(self, exc):
        if isinstance(exc, _Replayed):
            return Response(exc.replay.body, status=exc.replay.status_code, headers={"Idempotent-Replayed": "true"})
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._idempotency is not None and response.status_code < 400:
            idempotency_complete(self._idempotency, status_code=response.status_code, body=response.data)
            self._idempotency = None
        return response


class DosApiView(ScopedViewMixin, APIView):
    """For endpoints that are operations rather than resources (/decide, /simulate, /me)."""


class DosViewSet(ScopedViewMixin, viewsets.GenericViewSet):
    """Resource endpoints; combine with the DRF mixins for the verbs you offer.

    ``parent_filters`` maps queryset lookups to URL kwargs for nested routes, e.g.
    ``{"project_id": "project_pk"}``.
    """

    parent_filters: dict[str, str] = {}

    def get_queryset(self):
        queryset = super().get_queryset()
        if any(f.name == "org" for f in queryset.model._meta.fields):
            # RLS already restricts rows; filtering explicitly as well lets PostgreSQL use the
            # (org_id, …) indexes and keeps the intent visible in query logs.
            queryset = queryset.filter(org_id=scope.require_org_id())
        if self.parent_filters:
            queryset = queryset.filter(**{lookup: self.kwargs[kwarg] for lookup, kwarg in self.parent_filters.items()})
        return queryset


class DosReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DosViewSet):
    pass
