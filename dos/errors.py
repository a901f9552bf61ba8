"""Domain errors: how a service refuses, without knowing who asked (STYLE §5).

A service raises a ``DomainError`` subclass carrying a ``status`` (the HTTP-like number the API
answers with — a number, not an HTTP object), a stable ``code``, optional field ``errors`` and extra
members (``allowed``, ``permission``, …). The API's exception handler turns every one into
problem+json in one place (``dos.api.errors``); the admin shows the message (``DosModelAdmin``);
``dosctl`` prints it and exits non-zero. No service builds a response.
"""

from __future__ import annotations

FIELD_ERRORS_DETAIL = "The request has invalid fields; see errors."


class DomainError(Exception):
    status: int = 400
    code: str = "domain_error"

    def __init__(self, message: str = "", *, code: str | None = None, status: int | None = None,
                 errors: dict[str, list[str]] | None = None, retry_after: int | None = None, **extra):
        super().__init__(message)
        if code:
            self.code = code
        if status:
            self.status = status
        self.errors = errors or {}
        self.retry_after = retry_after  # seconds, for refusals worth retrying (429, 503)
        self.extra = {k: v for k, v in extra.items() if v is not None}

    @property
    def detail(self) -> str:
        return str(self)


class FieldErrors(DomainError):
    """Bad input named by field: 400 ``validation_error`` with ``errors``."""

    status = 400
    code = "validation_error"

    def __init__(self, errors: dict[str, list[str]], message: str = FIELD_ERRORS_DETAIL, **kwargs):
        super().__init__(message, errors=errors, **kwargs)


def field_error(field: str, message: str) -> FieldErrors:
    return FieldErrors({field: [message]}, message)
