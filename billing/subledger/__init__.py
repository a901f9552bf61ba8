"""The double-entry subledger (docs/decisions/0014-subledger.md): posting rules as data, journals
that sum to zero, corrections by reversal only, the month-end trial balance.

Callers book through ``post`` and ``reverse``; reports read ``trial_balance``."""

from billing.models.ledger import Journal, JournalLine  # noqa: F401
from billing.subledger.posting import (  # noqa: F401
    JOURNAL_POST,
    JOURNAL_REVERSE,
    PostingRefused,
    SourceRef,
    platform_finance_only,
    post,
    reverse,
    source_ref,
    write_off,
)
from billing.subledger.rules import RULES, PostingRule, rule_for  # noqa: F401
from billing.subledger.trial_balance import TrialBalance, journal_months, trial_balance, unbalanced_journals  # noqa: F401
