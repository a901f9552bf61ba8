"""The metrics DecisionOS meters, with their units (seeds 000 "Usage Metering")."""

METRICS: dict[str, str] = {
    "decision_calls": "count",
    "data_scanned_bytes": "bytes",
    "storage_gb_hours": "gbh",
    "compute_seconds": "sec",
    "api_requests": "count",
    "hitl_tasks": "count",
    "seats": "count",
}
SOURCES = ("api", "decide", "hitl", "system", "connector")
COUNTER_NAMES = ("duplicates", "late_kept", "late_adjusted", "late_dropped")

# The retention purge never removes a meter event younger than this (billing/migrations/0012); the
# lateness window (USAGE_MAX_LATENESS_DAYS) stays below it (billing.checks).
PURGE_FLOOR_DAYS = 90
