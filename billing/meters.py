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
