"""What the OpenAPI document says about problems, for every operation (SPEC §7, §13).

``problem_responses_hook`` (a drf-spectacular postprocessing hook) declares on each operation the
problem+json answers it can give — ``PROBLEM_RESPONSES`` for all of them, ``WRITE_PROBLEM_RESPONSES``
in addition for POST/PUT/PATCH/DELETE — each with the ``X-Corr-ID`` header. A view that documents a
status itself (with its own description) keeps its description.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

from dos.api.errors import PROBLEM_CONTENT_TYPE
from dos.hooks import Hook

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details. `code` is stable; `title` and `detail` follow Accept-Language.",
    "properties": {
        "type": {"type": "string", "example": "urn:decisionos:problem:validation_error"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "corr_id": {"type": ["string", "null"]},
        "errors": {
            "type": "object",
            "description": "Field path (`input.income_monthly`, `items[3].subject_id`) → messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["type", "title", "status", "detail", "code"],
    "additionalProperties": True,  # extra members: permission, allowed, quota, limit, used, issues …
}

PROBLEM_RESPONSES = {
    "400": "Invalid parameters or fields (`validation_error`, see `errors`), or malformed JSON.",
    "401": "No or bad credentials.",
    "403": "Not allowed: names the `permission`, entitlement or policy that refused.",
    "404": "No such object in your organisation.",
    "405": "Method not allowed; see `Allow`.",
    "406": "The requested representation cannot be produced.",
    "429": "Rate limit or quota reached; see `Retry-After`.",
}
WRITE_PROBLEM_RESPONSES = {
    "409": "Conflicts with the current state (`illegal_transition` lists `allowed`), or the same "
           "Idempotency-Key is still being processed.",
    "411": "Chunked body: send Content-Length.",
    "413": "Body over the size limit.",
    "415": "Unsupported media type (JSON bodies only, multipart for uploads).",
    "422": "`idempotency_key_reused`: the same Idempotency-Key with a different request.",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

CORR_ID_HEADER = {"description": "The request's correlation id (sent or generated).", "schema": {"type": "string"}}


def problem_response(description: str) -> dict:
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_REF}},
            "headers": {"X-Corr-ID": CORR_ID_HEADER}}


# Constraints across fields that a serializer cannot state by itself, by component name (registered
# next to the serializer): merged into the published component.
schema_constraints: dict[str, dict] = {}


def constraints_hook(result, generator, request, public):
    """drf-spectacular postprocessing hook: cross-field constraints, and UUIDs that are exactly 36
    characters (a blank string is not a UUID, whatever a generator thinks of ``format: uuid``)."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, extra in schema_constraints.items():
        for candidate in (name, f"{name}Request"):
            if candidate in schemas:
                schemas[candidate].update(extra)
    _uuid_lengths(result)
    return result


def _uuid_lengths(node) -> None:
    if isinstance(node, dict):
        if node.get("format") == "uuid" and node.get("type") in ("string", ["string", "null"]):
            node.setdefault("minLength", 36)
            node.setdefault("maxLength", 36)
        for value in node.values():
            _uuid_lengths(value)
    elif isinstance(node, list):
        for value in node:
            _uuid_lengths(value)


# Parts of the document that depend on who asks (registered by the apps that own them): each handler
# receives the finished document and the request, and may narrow it to the caller's own contracts.
# The document stays public: a handler that cannot identify the caller leaves the document as it is.
caller_tailors = Hook("dos.api.schema.caller_tailors")


def caller_hook(result, generator, request, public):
    """drf-spectacular postprocessing hook: the caller's own contracts (see ``caller_tailors``)."""
    if request is not None:
        caller_tailors(result, request)
    return result


def problem_responses_hook(result, generator, request, public):
    """drf-spectacular postprocessing hook: problem responses and headers on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            declared = dict(PROBLEM_RESPONSES)
            if method in WRITE_METHODS:
                declared.update(WRITE_PROBLEM_RESPONSES)
            for status, description in declared.items():
                existing = responses.get(status)
                if existing is None:
                    responses[status] = problem_response(description)
                elif "content" not in existing:
                    existing.update(problem_response(existing.get("description") or description))
    return result


class DosAutoSchema(AutoSchema):
    """An ``@action(..., pagination_class=None)`` answers a plain array: the schema says so too (the
    action's kwargs are not applied to views routed with ``as_view({...})``, so read them here)."""

    def _get_paginator(self):
        action = getattr(self.view, getattr(self.view, "action", None) or "", None)
        if "pagination_class" in getattr(action, "kwargs", {}):
            cls = action.kwargs["pagination_class"]
            return cls() if cls else None
        return super()._get_paginator()
