"""Probes, metrics, SLO-as-code, evidence and judge, error budgets, release gate, status."""
