"""Prometheus series for metering."""

from prometheus_client import Counter

METER_COUNTERS = Counter("dos_meter_events_total", "Meter event outcomes that need watching.", ["counter"])
RECONCILIATION_ALERTS = Counter("dos_usage_reconciliation_alerts_total", "Metered vs observed drift above 1 %.",
                                ["metric"])
QUOTA_REFUSALS = Counter("dos_quota_refusals_total", "Calls refused by a hard quota.", ["metric", "window"])
THROTTLED = Counter("dos_throttled_requests_total", "Requests refused by the per-org token bucket.", [])
