"""gunicorn settings for web (make run and docker). The app is preloaded in the master so the
startup guard (dos.db_role) stops the whole server, not each worker in a crash loop."""

import multiprocessing
import os

bind = os.environ.get("DOS_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
threads = int(os.environ.get("WEB_THREADS", "1"))
preload_app = True
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
accesslog = None  # request logs come from the app's middleware, with corr_id and route
errorlog = "-"
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
limit_request_field_size = 8190


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
