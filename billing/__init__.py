"""Meter events, usage rollups, quotas and throttling, plans and prices, rating, invoices, payments, dunning."""
