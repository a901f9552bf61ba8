"""Invoices: drafts rated from a subscription's month, issued (numbered, frozen, chained), settled.

Services: ``invoice_draft_save``, ``invoice_issue``, ``invoice_void``, ``invoice_mark_uncollectible``,
``invoice_mark_paid`` (credit notes: ``billing.credit_notes``; the month close: ``billing.close``).
See docs/decisions/0013-invoices-and-credit-notes.md.
"""

from billing.invoicing.drafts import INVOICE_DRAFT, draft_lines, invoice_draft_save, vat_for  # noqa: F401
from billing.invoicing.errors import CreditNoteRefused, InvoiceIncomplete, InvoiceStateError  # noqa: F401
from billing.invoicing.issue import (  # noqa: F401
    INVOICE_ISSUE,
    INVOICE_PAID,
    INVOICE_UNCOLLECTIBLE,
    INVOICE_VOID,
    invoice_issue,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_void,
)
