"""RFC 9457 problem+json for every error under /api/.

Body: ``type``, ``title``, ``status``, ``detail``, ``code``, ``corr_id`` and, for validation errors,
``errors`` (field path → list of messages). DRF exceptions go through
``problem_exception_handler``; Django-level errors (404 for unknown paths, 413, 500) through
``problem_response``.

An outage is not a bug: a lost or failing database connection, a read-only database and an
unavailable Redis answer 503 with ``Retry-After`` (``unavailable_problem``), never 500
(docs/runbooks/degradation.md).
"""

from __future__ import annotations

import json
from http import HTTPStatus

import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, InternalError, OperationalError
from django.http import Http404, HttpResponse
from django.utils.translation import gettext
from rest_framework import exceptions, status
from rest_framework.response import Response

from dos.errors import FIELD_ERRORS_DETAIL, DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"
API_PREFIX = "/api/"


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


def problem_type(code: str) -> str:
    return f"urn:decisionos:problem:{code}"


def problem_body(*, status_code: int, code: str, detail: str, corr_id: str | None,
                 title: str | None = None, errors: dict | None = None, **extra) -> dict:
    body = {
        "type": problem_type(code),
        "title": title or gettext(HTTPStatus(status_code).phrase),
        "status": status_code,
        "detail": gettext(detail) if detail == FIELD_ERRORS_DETAIL else detail,
        "code": code,
        "corr_id": corr_id,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(request, status_code: int, code: str, detail: str, *, errors: dict | None = None,
                     headers: dict | None = None, **extra) -> HttpResponse:
    """A plain Django response; for code paths outside DRF views (middleware, handlers)."""
    body = problem_body(status_code=status_code, code=code, detail=detail,
                        corr_id=getattr(request, "corr_id", None), errors=errors, **extra)
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status_code,
                            content_type=PROBLEM_CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


class Problem(exceptions.APIException):
    """Raise from services or views to answer with a specific problem code and extra members.

    ``Problem(409, "illegal_transition", "…", allowed=["approve"])`` → 409 with ``allowed`` in the
    body. Services raise domain exceptions; views may translate them into Problems.
    """

    def __init__(self, status_code: int, code: str, detail: str, *, errors: dict | None = None,
                 headers: dict | None = None, **extra):
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.problem_code = code
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def invalid_fields(errors: dict[str, list[str]], detail: str = FIELD_ERRORS_DETAIL) -> Problem:
    """The 400 ``validation_error`` problem every endpoint answers for bad fields."""
    return Problem(400, "validation_error", detail, errors=errors)


def referenced_not_found(field: str, message: str) -> Problem:
    """404 ``not_found`` for an id in the request body that names nothing the caller can see (another
    org's or project's ids look exactly like ids that do not exist); ``errors`` names the field."""
    return Problem(404, "not_found", message, errors={field: [message]})


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested ValidationError detail → {"field.sub[0].name": ["message", …]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_errors(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(v, (dict, list)) for v in detail):
            out[prefix or "non_field_errors"] = [str(v) for v in detail]
        else:
            for i, value in enumerate(detail):
                if value:
                    out.update(flatten_errors(value, f"{prefix}[{i}]"))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


# Seconds a client should wait before retrying (docs/runbooks/degradation.md): a lost database
# connection or an unavailable helper is back within a couple of seconds or the instance is taken
# out of rotation; a read-only database is a failover or maintenance, which takes longer.
RETRY_AFTER_UNAVAILABLE = 2
RETRY_AFTER_READ_ONLY = 30
READ_ONLY_SQLSTATE = "25006"  # read_only_sql_transaction: default_transaction_read_only, a standby


def is_read_only_error(exc: BaseException) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == READ_ONLY_SQLSTATE or \
        getattr(exc, "sqlstate", None) == READ_ONLY_SQLSTATE


def read_only_problem() -> Problem:
    return Problem(503, "read_only", "The service is read-only for now (maintenance or a database failover); reads "
                   "work. Retry the write later with the same Idempotency-Key.",
                   headers={"Retry-After": str(RETRY_AFTER_READ_ONLY)})


def unavailable_problem(exc: BaseException) -> Problem | None:
    """The 503 for an outage of the database or Redis, or None when ``exc`` is not one.

    Nothing the request wrote was committed (its transaction is rolled back, or the connection that
    held it is gone), so the client can retry; with an Idempotency-Key the retry is safe even when
    the connection was lost while committing."""
    if isinstance(exc, InternalError) and is_read_only_error(exc):
        return read_only_problem()
    if isinstance(exc, (OperationalError, InterfaceError)):
        return Problem(503, "database_unavailable", "The database connection was lost or is overloaded; nothing was "
                       "committed. Retry with the same Idempotency-Key.",
                       headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})
    if isinstance(exc, redis.RedisError):
        return Problem(503, "temporarily_unavailable", "A backing service is briefly unavailable; nothing was "
                       "committed. Retry with the same Idempotency-Key.",
                       headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})
    return None


def unavailable_response(request, exc: BaseException) -> HttpResponse | None:
    """``unavailable_problem`` as a plain Django response, for code outside DRF's handler."""
    problem = unavailable_problem(exc)
    if problem is None:
        return None
    return problem_response(request, problem.status_code, problem.problem_code, str(problem.detail),
                            headers=problem.headers)


_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.Throttled: "throttled",
}


def problem_exception_handler(exc, context):
    request = context.get("request")
    corr_id = getattr(request, "corr_id", None)

    if isinstance(exc, DjangoValidationError):
        # Services refuse bad changes with Django's ValidationError (field → messages).
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = invalid_fields(errors)
    elif isinstance(exc, RequestDataTooBig):
        exc = Problem(413, "payload_too_large", str(exc))
    elif isinstance(exc, SuspiciousOperation):
        exc = Problem(400, "bad_request", "The request was malformed.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DomainError):
        # Every service refusal, in one place: its status, code, field errors and extra members.
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        exc = Problem(exc.status, exc.code, exc.detail, errors=exc.errors or None, headers=headers, **exc.extra)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif (unavailable := unavailable_problem(exc)) is not None:
        exc = unavailable

    if isinstance(exc, Problem):
        body = problem_body(status_code=exc.status_code, code=exc.problem_code, detail=str(exc.detail),
                            corr_id=corr_id, errors=exc.errors, **exc.extra)
        return Response(body, status=exc.status_code, headers=exc.headers, content_type=PROBLEM_CONTENT_TYPE)

    # Imported here: rest_framework.views imports the authentication classes, which import us.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API exception: ApiExceptionMiddleware answers 500

    errors = None
    if isinstance(exc, exceptions.ValidationError):
        code = "validation_error"
        errors = flatten_errors(exc.detail)
        detail = FIELD_ERRORS_DETAIL
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        # A code given explicitly (raise AuthenticationFailed(..., code="otp_required")) or by a
        # subclass wins; plain DRF exceptions get our names for their classes.
        codes = exc.get_codes()
        explicit = codes if isinstance(codes, str) and codes != type(exc).default_code else None
        code = explicit or _CODES.get(type(exc)) or (codes if isinstance(codes, str) else "error")
        detail = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else json.dumps(exc.detail)
    extra = {}
    permission = getattr(exc, "permission", None)
    if permission:
        extra["permission"] = permission
    response.data = problem_body(status_code=response.status_code, code=code, detail=detail,
                                 corr_id=corr_id, errors=errors, **extra)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response
