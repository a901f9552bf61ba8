"""What the decisions app lets higher apps plug into (see dos.hooks)."""

from dos.hooks import Hook

# A decision (or a batch's decisions) needs a person: the review desk opens cases in the same
# transaction. Called with ``records=[(record, evaluation), …], project=…, actor=…``; returns the
# cases in the same order. Registered by hitl; without it, review decisions are recorded caseless.
review_requested = Hook("decisions.review_requested", single=True)

# Was the decision's subject erased (crypto-shredded)? Called with ``record``; returns a bool.
# Replay then reports ``erased`` where the masked snapshot no longer reproduces the outcome, instead of
# a mismatch. Registered by privacy (the vault); without it, nobody is ever erased.
subject_erased = Hook("decisions.subject_erased", single=True)
