"""DecisionOS project package and core app: settings, API foundation, ledger, idempotency."""
