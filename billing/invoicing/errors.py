"""How invoicing refuses, and who may invoice at all."""

from __future__ import annotations

from dos.authz import PermissionRefused, authorize
from dos.errors import DomainError


class InvoiceStateError(DomainError):
    """The invoice (or credit note) is not in a state that allows this (409, with ``allowed``)."""

    status, code = 409, "invoice_state"


class InvoiceIncomplete(DomainError):
    status, code = 422, "invoice_incomplete"


class CreditNoteRefused(DomainError):
    status, code = 422, "credit_note_refused"


def platform_finance(actor, name: str):
    """Authorize ``name`` (``billing.manage``) and require platform staff or a platform job: an org's
    own billing admin holds ``billing.manage`` for its plan and payment method, but never invoices or
    credits itself."""
    actor = authorize(actor, name)
    if not getattr(actor, "platform", False):
        raise PermissionRefused("Invoices and credit notes are issued by platform finance only.",
                                permission="billing.manage", code="platform_only")
    return actor
