"""What the decisions app lets higher apps plug into (see dos.hooks)."""

from dataclasses import dataclass

from dos.hooks import Hook

# A decision (or a batch's decisions) needs a person: the review desk opens cases in the same
# transaction. Called with ``records=[(record, evaluation), …], project=…, actor=…``; returns the
# cases in the same order. Registered by hitl; without it, review decisions are recorded caseless.
review_requested = Hook("decisions.review_requested", single=True)


@dataclass(frozen=True)
class ConsentVerdict:
    """Whether the purpose of a decide call is covered for its subject (privacy's answer).

    ``consent_ref`` is what the record keeps: the consent's id, or ``basis:<lawful basis>`` when the
    org configured a basis that needs no consent. ``mode`` says what to do when not covered:
    ``monitor`` (decide, and note it), ``deny`` (a deny record with CONSENT_MISSING) or ``refuse``
    (403, nothing recorded)."""

    covered: bool
    consent_ref: str = ""
    basis: str = ""
    mode: str = "deny"


# The policy enforcement point of purpose limitation: called with ``org_id=…, checks=[(subject_token,
# purpose), …]``; returns one ConsentVerdict per check, in order, costing one query at most.
# Registered by privacy; without it no consent is checked.
consent_check = Hook("decisions.consent_check", single=True)

# Was the decision's subject erased (crypto-shredded)? Called with ``record``; returns a bool.
# Replay then reports ``erased`` where the masked snapshot no longer reproduces the outcome, instead of
# a mismatch. Registered by privacy (the vault); without it, nobody is ever erased.
subject_erased = Hook("decisions.subject_erased", single=True)

# The original of an input whose snapshot masks personal data, sealed under the subject's data key:
# called with ``org_id=…, subject_token=…, decision_id=…, data=…``; returns the sealed text the record
# keeps in ``refs["sealed_input"]`` ("" when nothing may be sealed for the subject any more).
# ``input_unseal`` gives it back for replay (``record`` → dict), raising ``dos.vault.Erased`` once the
# subject was erased. Both registered by privacy (the vault).
input_seal = Hook("decisions.input_seal", single=True)
input_unseal = Hook("decisions.input_unseal", single=True)
