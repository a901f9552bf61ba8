"""The base classes every API view derives from (STYLE §2).

They (1) run the whole request in one database transaction, rolled back on any error response, so
a write is all-or-nothing even when a view writes before it validates; (2) authenticate, then check
the action's permission (fail closed); (3) call ``enter_scope`` — the single place where the tenant
scope for the transaction is set; (4) run the registered request checks (the org's status, a hook
tenancy registers: the kernel does not import tenancy); (5) honour ``Idempotency-Key`` on writes.
Resource viewsets provide ``queryset`` (and ``parent_filters`` for nested routes) and never override
``get_queryset``; a credential bound to one project sees only that project's rows (404 otherwise).

Outages (docs/runbooks/degradation.md): a database connection lost before the request sent any
write is re-run once, on a fresh connection, without the client noticing; lost after a write (or
while committing) the request answers 503 with ``Retry-After`` — its transaction died with the
connection, so nothing was committed, and an Idempotency-Key makes the client's retry safe either
way. Under ``DOS_READ_ONLY`` writes run in a read-only transaction, so a view that would write
answers 503 ``read_only`` exactly as it does when the database itself is read-only; reads go on.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from rest_framework import exceptions, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from dos import scope
from dos.api.errors import unavailable_response
from dos.api.permissions import PUBLIC, ActionPermission, action_name, required_permission
from dos.idempotency import HEADER, WRITE_METHODS, Pending, Replay, idempotency_begin, idempotency_complete

log = structlog.get_logger(__name__)

PROJECT_MODEL = "tenancy.project"

# Checks every authenticated API request passes after its permission, before any work:
# ``check(principal, *, write, permission, action)`` raises to refuse. Registered by apps above the
# kernel in AppConfig.ready() (tenancy: the org's status).
_request_checks: list[Callable[..., None]] = []


def register_request_check(check: Callable[..., None]) -> None:
    if check not in _request_checks:
        _request_checks.append(check)


def bound_project_id(principal):
    """The project a credential is confined to: an API key is issued for one project."""
    if getattr(principal, "kind", "") == "api_key":
        return getattr(principal, "project_id", None)
    return None


def project_lookup_for(model) -> str | None:
    """The queryset lookup from ``model`` to its project id, or None for org-wide models: the
    project itself, a ``project`` foreign key, or one hop through a foreign key to a model that
    has one (``policy_set__project_id``, ``case__project_id``)."""
    if model._meta.label_lower == PROJECT_MODEL:
        return "pk"
    fks = [f for f in model._meta.fields if f.many_to_one and f.related_model is not None]
    for field in fks:
        if field.related_model._meta.label_lower == PROJECT_MODEL:
            return f"{field.name}_id"
    for field in fks:
        for inner in field.related_model._meta.fields:
            if inner.many_to_one and inner.related_model is not None \
                    and inner.related_model._meta.label_lower == PROJECT_MODEL:
                return f"{field.name}__{inner.name}_id"
    return None


class _Replayed(Exception):
    def __init__(self, replay: Replay):
        self.replay = replay


_READ_STATEMENTS = frozenset({"SELECT", "SHOW", "SET", "SAVEPOINT", "RELEASE", "ROLLBACK"})


class WriteWatch:
    """A connection execute_wrapper that notes whether a statement that may write was sent.

    Anything not plainly a read counts as a write (``WITH`` too, since it can carry an INSERT):
    erring that way only costs a transparent retry, never a second effect."""

    def __init__(self) -> None:
        self.wrote = False

    def __call__(self, execute, sql, params, many, context):
        if not self.wrote:
            head = sql.lstrip()[:12].split(None, 1)[0].upper() if isinstance(sql, str) and sql.strip() else ""
            self.wrote = head not in _READ_STATEMENTS
        return execute(sql, params, many, context)


def connection_lost(exc: BaseException) -> bool:
    """The connection itself is gone (terminated backend, restart, network), as opposed to a
    statement that failed on a healthy one (a deadlock, a statement timeout)."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


class ScopedViewMixin:
    permission_classes = [ActionPermission]
    permission_map: dict[str, str] = {}
    # Views whose writes are allowed under DOS_READ_ONLY maintenance (the database itself still
    # takes writes then; when it does not, they answer 503 read_only like every other write).
    writes_in_read_only_mode = False
    _idempotency: Pending | None = None
    _db_error: BaseException | None = None

    def dispatch(self, request, *args, **kwargs):
        retryable = self._body_replayable(request)
        response, watch = self._dispatch_once(request, *args, **kwargs)
        error = self._db_error
        if retryable and error is not None and not watch.wrote and connection_lost(error) \
                and not connection.in_atomic_block:
            log.warning("api.db_connection_lost_retried", path=request.path, error=f"{type(error).__name__}: {error}"[:200])
            connection.close()
            self._idempotency = None
            request.dos_rerun = True  # what the first attempt counted outside the database is not counted again
            response, _watch = self._dispatch_once(request, *args, **kwargs)
        return response

    def _dispatch_once(self, request, *args, **kwargs):
        self._db_error = None
        watch = WriteWatch()
        try:
            with connection.execute_wrapper(watch), transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)
                if response.status_code >= 400:
                    transaction.set_rollback(True)
        except (OperationalError, InterfaceError) as exc:
            # Raised outside DRF's handler: by COMMIT, or by finalize_response (storing the
            # Idempotency-Key's response). If the request wrote, whether its transaction landed is
            # unknown, so it is not re-run (``watch.wrote``); the 503 asks the client to retry with its key.
            self._db_error = exc
            log.warning("api.db_lost_at_commit", path=request.path, wrote=watch.wrote,
                        error=f"{type(exc).__name__}: {exc}"[:200])
            response = unavailable_response(request, exc)
        finally:
            # Normally the commit above ended the transaction and its settings; when the request
            # ran inside an outer transaction, close the scope explicitly.
            scope.reset()
        return response, watch

    @staticmethod
    def _body_replayable(request) -> bool:
        """Keep the body so a re-run can parse it again (not for multipart: uploads stream)."""
        if request.content_type.startswith("multipart/"):
            return False
        try:
            request.body  # noqa: B018 - reading it caches it on the request
        except Exception:  # noqa: BLE001 - an unreadable body is the first attempt's to report
            return False
        return True

    def get_authenticate_header(self, request):
        # Always challenge with Bearer so a missing credential is a 401, distinct from a 403.
        return super().get_authenticate_header(request) or 'Bearer realm="decisionos"'

    def initial(self, request, *args, **kwargs):
        # DRF authenticates lazily inside initial(); the tenant scope can only be known after it.
        super().initial(request, *args, **kwargs)
        self.enter_scope(request)
        if settings.DOS_READ_ONLY and request.method in WRITE_METHODS and not self.writes_in_read_only_mode:
            with connection.cursor() as cur:  # a write now fails as on a read-only database: 503 read_only
                cur.execute("SET TRANSACTION READ ONLY")
        self._run_request_checks(request)
        self._begin_idempotency(request)

    def _run_request_checks(self, request) -> None:
        if request.auth is None or request.method == "OPTIONS":
            return
        permission = required_permission(self, request)
        if permission == PUBLIC:
            return
        for check in _request_checks:
            check(request.auth, write=request.method in WRITE_METHODS, permission=permission,
                  action=action_name(self, request))

    def project_scoped(self, queryset, lookup: str | None = None):
        """``queryset`` restricted to the caller's project when its credential is bound to one —
        for ids that arrive in a request body rather than the URL."""
        project_id = bound_project_id(self.request.auth)
        lookup = lookup or project_lookup_for(queryset.model)
        if project_id is None or not lookup:
            return queryset
        return queryset.filter(**{lookup: project_id})

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
        if isinstance(exc, (OperationalError, InterfaceError)):
            self._db_error = exc  # answered 503 by the handler; dispatch decides whether to re-run
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
    ``{"project_id": "project_pk"}``. ``project_lookup`` names the path from the model to its
    project when it cannot be found by ``project_lookup_for`` (``""`` marks an org-wide resource).
    """

    parent_filters: dict[str, str] = {}
    project_lookup: str | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A nested route names its parent project: another project's is "not found" to a key bound
        # to one project, like any of that project's rows.
        bound = bound_project_id(request.auth)
        parent = self.kwargs.get("project_pk")
        if bound is not None and parent is not None and str(parent) != str(bound):
            raise exceptions.NotFound("No such project.")

    def get_queryset(self):
        queryset = super().get_queryset()
        if any(f.name == "org" for f in queryset.model._meta.fields):
            # RLS already restricts rows; filtering explicitly as well lets PostgreSQL use the
            # (org_id, …) indexes and keeps the intent visible in query logs.
            queryset = queryset.filter(org_id=scope.require_org_id())
        if self.parent_filters:
            queryset = queryset.filter(**{lookup: self.kwargs[kwarg] for lookup, kwarg in self.parent_filters.items()})
        project_id = bound_project_id(self.request.auth)
        if project_id is not None:
            lookup = self.project_lookup if self.project_lookup is not None else project_lookup_for(queryset.model)
            if lookup:
                queryset = queryset.filter(**{lookup: project_id})
        return queryset
