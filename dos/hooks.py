"""Extension points: how a lower layer causes something higher up without importing it (STYLE §5).

The lower app declares a ``Hook`` next to the code that fires it; the higher app plugs a function
into it in its ``AppConfig.ready()``. A hook that may have one implementation at most (``single``)
refuses a second one, so two apps cannot silently fight over it.

Hooks in use (declared by → registered by):
- ``decisions.hooks.review_requested`` (decisions → hitl): a review decision opens cases.
- ``dos.demo.demo_steps`` (dos → tenancy, decisions, hitl): each app seeds its part of the demo.
- ``dos.management.base.org_resolver`` (dos → tenancy): ``--org`` slug or id → org.
- ``dos.admin_site.admin_views`` (dos → tenancy): the org switcher and the plans page.
- ``dos.api.schema.caller_tailors`` (dos → decisions): /api/schema/ for an API key describes
  /decide's ``input`` as that key's published contracts.
"""

from __future__ import annotations

from collections.abc import Callable


class Hook:
    def __init__(self, name: str, *, single: bool = False):
        self.name = name
        self.single = single
        self._handlers: list[Callable] = []

    def register(self, fn: Callable) -> Callable:
        """Plug ``fn`` in (idempotent; usable as a decorator)."""
        if fn in self._handlers:
            return fn
        if self.single and self._handlers:
            raise RuntimeError(f"Hook '{self.name}' takes one implementation; {self._handlers[0]!r} is registered.")
        self._handlers.append(fn)
        return fn

    @property
    def handlers(self) -> tuple[Callable, ...]:
        return tuple(self._handlers)

    def __bool__(self) -> bool:
        return bool(self._handlers)

    def __call__(self, *args, **kwargs) -> list:
        """Call every handler in registration order; their results, in that order."""
        return [fn(*args, **kwargs) for fn in self._handlers]

    def one(self, *args, **kwargs):
        """Call the single implementation; ``LookupError`` when no app registered one."""
        if not self._handlers:
            raise LookupError(f"Nothing is registered for hook '{self.name}'.")
        return self._handlers[0](*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._handlers)} handler(s)>"
