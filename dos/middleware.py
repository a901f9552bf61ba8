"""Request plumbing shared by every surface: correlation ids, body limits, API error safety net."""

from __future__ import annotations

import re
import uuid

import structlog
from django.conf import settings

from dos.api.errors import is_api_path, problem_response, unavailable_response

log = structlog.get_logger(__name__)

_CORR_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def corr_id_from(value: str | None) -> str:
    """Accept a caller's X-Corr-ID when it is a sane token; otherwise mint one."""
    if value and _CORR_ID_RE.match(value):
        return value
    return uuid.uuid4().hex


class CorrelationIdMiddleware:
    """Binds X-Corr-ID into the request, every log line of the request, and the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        corr_id = corr_id_from(request.headers.get("X-Corr-ID"))
        request.corr_id = corr_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(corr_id=corr_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.clear_contextvars()
        response["X-Corr-ID"] = corr_id
        return response


UPLOAD_PATH_RE = re.compile(r"^/api/v1/hitl/cases/[0-9a-f-]{36}/attachments$")


class BodySizeLimitMiddleware:
    """Refuse API bodies over API_MAX_BODY_BYTES before anything reads them (413).

    Chunked bodies (no Content-Length) are refused with 411 on the API: their size is unknown
    until read, and a streaming parser would otherwise consume an unbounded body.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api_path(request.path):
            limit = settings.API_MAX_BODY_BYTES
            if UPLOAD_PATH_RE.match(request.path):  # multipart file uploads have their own cap
                limit = max(limit, settings.HITL_ATTACHMENT_MAX_BYTES + 64 * 1024)
            if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                return problem_response(
                    request, 411, "length_required", "Send a Content-Length; chunked request bodies are not accepted."
                )
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return problem_response(
                    request, 400, "bad_content_length", "Content-Length header is not a number."
                )
            if length > limit:
                return problem_response(
                    request, 413, "payload_too_large",
                    f"Request body is {length} bytes; the limit is {limit} bytes.",
                )
        return self.get_response(request)


class ApiExceptionMiddleware:
    """Last line of defence: an unhandled exception under /api/ becomes problem+json 500 — or 503 with
    Retry-After when it is an outage of the database or Redis (``unavailable_response``).

    DRF handles API exceptions itself; this catches what escapes it (bugs), logs the traceback
    with the correlation id and never leaks internals to the caller.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_api_path(request.path):
            return None
        unavailable = unavailable_response(request, exception)
        if unavailable is not None:  # an outage, not a bug: 503 with Retry-After
            log.warning("api.unavailable", path=request.path, method=request.method,
                        error=f"{type(exception).__name__}: {exception}"[:200])
            return unavailable
        log.exception("api.unhandled_exception", path=request.path, method=request.method)
        return problem_response(
            request, 500, "server_error",
            "An unexpected error occurred. Quote the correlation id when contacting support.",
        )


API_LANGUAGES = ("en", "ko")
API_DEFAULT_LANGUAGE = "en"


def api_language(accept_language: str) -> str:
    """The API's language: ``ko`` when the client asks for it (by q-order), otherwise English."""
    from django.utils.translation.trans_real import parse_accept_lang_header

    for tag, _q in parse_accept_lang_header(accept_language or ""):
        base = tag.split("-")[0].lower()
        if base in API_LANGUAGES:
            return base
    return API_DEFAULT_LANGUAGE


class ApiLocaleMiddleware:
    """/api/ speaks English unless the client sends ``Accept-Language: ko`` (the admin keeps the site
    default, Korean), says which in ``Content-Language``, and renders times in UTC (``…Z``).

    Problem ``code`` and the keys of ``errors`` never change with the language; ``title``, ``detail``
    and field messages do (Django's and DRF's own catalogues).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_api_path(request.path_info):
            return self.get_response(request)
        from datetime import UTC

        from django.utils import timezone, translation

        language = api_language(request.headers.get("Accept-Language", ""))
        with translation.override(language), timezone.override(UTC):
            request.LANGUAGE_CODE = language
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        vary = response.headers.get("Vary")
        if not vary or "accept-language" not in vary.lower():
            response.headers["Vary"] = f"{vary}, Accept-Language" if vary else "Accept-Language"
        return response
