"""Prometheus metric definitions (multiprocess-safe: gunicorn workers and Celery share a dir).

Labels are bounded: HTTP metrics use the URL route name, never the raw path, so ids in paths
cannot explode cardinality.
"""

import os

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "dos_http_requests_total", "HTTP requests handled.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "dos_http_request_duration_seconds", "HTTP request latency.", ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
DB_QUERIES = Histogram(
    "dos_http_db_queries_per_request", "Database queries executed per HTTP request.", ["route"],
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 100),
)
CELERY_TASKS = Counter("dos_celery_tasks_total", "Celery task transitions.", ["task", "state"])


def render_latest() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(DEFAULT_REGISTRY)
