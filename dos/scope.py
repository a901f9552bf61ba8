"""The tenant scope of the current transaction (SPEC §5).

Row-level security policies read three transaction-local settings:

* ``dos.org_id``    the org whose rows are visible and writable;
* ``dos.platform``  ``on`` for platform scope (all orgs) — platform staff in the admin and named
                    jobs only, each use written to the audit chain;
* ``dos.user_id``   the signed-in user, so they can find their own memberships before an org is
                    chosen; ``dos.key_prefix`` lets API-key authentication read exactly the key
                    whose prefix the caller presented.

Settings are set with ``set_config(…, true)``: they vanish at COMMIT/ROLLBACK and can never leak to
the next request on a pooled connection. Every setter therefore requires an open transaction. A
context variable mirrors the scope for the ORM's fail-closed manager and for log lines.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from dos.sqlbatch import execute_batch

GUC_ORG = "dos.org_id"
GUC_PLATFORM = "dos.platform"
GUC_USER = "dos.user_id"
GUC_KEY_PREFIX = "dos.key_prefix"


class ScopeError(RuntimeError):
    """Raised when tenant data is touched without a scope, or a scope is set outside a transaction."""


@dataclass(frozen=True)
class Scope:
    org_id: uuid.UUID | None = None
    platform: bool = False
    reason: str = ""


_current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("dos_scope", default=None)


def current() -> Scope | None:
    return _current.get()


def current_org_id() -> uuid.UUID | None:
    scope = _current.get()
    return scope.org_id if scope else None


def require_org_id() -> uuid.UUID:
    org_id = current_org_id()
    if org_id is None:
        raise ScopeError("This operation needs an org scope (dos.scope.org_scope).")
    return org_id


def _set(settings: dict[str, str], then: Sequence[tuple[str, Sequence]] = ()) -> list[list[tuple]]:
    """Set the settings, then run ``then`` (statements that need them) in the same round trip."""
    if not connection.in_atomic_block:
        raise ScopeError("The tenant scope is transaction-local: set it inside transaction.atomic().")
    names = list(settings)
    sql = "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in names)
    params: list[str] = []
    for name in names:
        params += [name, settings[name]]
    if then:
        return execute_batch([(sql, params), *then])[1:]
    with connection.cursor() as cur:
        cur.execute(sql, params)
    return []


def _apply(scope: Scope | None, then: Sequence[tuple[str, Sequence]] = ()) -> list[list[tuple]]:
    results = _set({
        GUC_ORG: str(scope.org_id) if scope and scope.org_id else "",
        GUC_PLATFORM: "on" if scope and scope.platform else "off",
    }, then)
    _current.set(scope)
    return results


@contextlib.contextmanager
def org_scope(org_id: uuid.UUID | str):
    """Run the block in one transaction scoped to ``org_id``; the previous scope is restored after."""
    org_uuid = org_id if isinstance(org_id, uuid.UUID) else uuid.UUID(str(org_id))
    previous = _current.get()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        _apply(Scope(org_id=org_uuid))
        try:
            yield
        finally:
            _restore(previous, outermost)


def _restore(previous: Scope | None, outermost: bool) -> None:
    """Leave a scope block: an outermost transaction's COMMIT clears the settings by itself; inside
    an outer transaction the previous scope must be put back explicitly."""
    if not outermost and connection.in_atomic_block and not connection.needs_rollback:
        _apply(previous)
    else:
        _current.set(previous)


def enter_org_scope(org_id: uuid.UUID) -> None:
    """Scope the rest of the current transaction (used by the API base view after authentication).

    Authentication already scoped the transaction to the same org: then there is nothing to send."""
    wanted = Scope(org_id=org_id)
    if _current.get() == wanted and connection.in_atomic_block:
        return
    _apply(wanted)


def read_as_org(org_id: uuid.UUID, statements: Sequence[tuple[str, Sequence]]) -> list[list[tuple]]:
    """Run ``statements`` under ``org_id``'s scope and close it again, all in one round trip, leaving
    the transaction unscoped: authentication loads what it needs (the key's org and project) this way
    and returns a principal; the scope itself is entered by the entry point (the API base view)."""
    if not connection.in_atomic_block:
        raise ScopeError("The tenant scope is transaction-local: read inside transaction.atomic().")
    closing = ("SELECT set_config(%s, '', true), set_config(%s, 'off', true)", [GUC_ORG, GUC_PLATFORM])
    opening = ("SELECT set_config(%s, %s, true), set_config(%s, 'off', true)", [GUC_ORG, str(org_id), GUC_PLATFORM])
    results = execute_batch([opening, *statements, closing])[1:-1]
    _current.set(None)
    return results


@contextlib.contextmanager
def platform_scope(*, reason: str, actor=None, org_id: uuid.UUID | None = None):
    """All orgs, for platform staff and named jobs. Every use is appended to the audit chain.

    ``reason`` names the job or admin action ("usage_rollup", "admin:changelist …").
    """
    if not reason:
        raise ScopeError("platform_scope needs a reason: it is written to the audit chain.")
    previous = _current.get()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        _apply(Scope(org_id=org_id, platform=True, reason=reason))
        from dos.audit import audit_platform_scope_used

        audit_platform_scope_used(reason=reason, actor=actor)
        try:
            yield
        finally:
            _restore(previous, outermost)


def reveal_for_user(user_id: uuid.UUID) -> None:
    """Let the current transaction see the given user's own membership rows (login, org picker)."""
    _set({GUC_USER: str(user_id)})


def reveal_key_prefix(prefix: str, then: Sequence[tuple[str, Sequence]] = ()) -> list[list[tuple]]:
    """Let the current transaction read the API key rows carrying exactly this prefix (and run
    ``then``, the statements that read them, in the same round trip)."""
    return _set({GUC_KEY_PREFIX: prefix}, then)


def reset() -> None:
    """Close the scope inside a still-open outer transaction (a request nested in a test or a job)."""
    if connection.in_atomic_block:
        _set({GUC_ORG: "", GUC_PLATFORM: "off", GUC_USER: "", GUC_KEY_PREFIX: ""})
    _current.set(None)


def clear() -> None:
    """Forget the context variable (the GUCs end with the transaction by themselves)."""
    _current.set(None)
