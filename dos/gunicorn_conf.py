"""gunicorn settings for web (make run and docker). The app is preloaded in the master so the
startup guard (dos.db_role) stops the whole server, not each worker in a crash loop.

SIGTERM (a deploy, ``docker stop``) is a graceful shutdown: the master stops listening and tells the
workers to finish the request in hand and exit; after ``graceful_timeout`` it kills what is left. A
request may legitimately run for ``timeout`` seconds, so the grace period defaults to the same, and
the orchestrator must wait longer than that before its own SIGKILL (docker/compose.yaml
stop_grace_period; docs/runbooks/workers.md). Each request is one transaction, so even a request
killed at the end of the grace period leaves nothing half-written.
"""

import multiprocessing
import os

bind = os.environ.get("DOS_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
threads = int(os.environ.get("WEB_THREADS", "1"))
preload_app = True
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", str(timeout)))
keepalive = 5
# gunicorn's runtime control socket (gunicornc) defaults to one path in $HOME, shared by every
# instance on the host (and $HOME may be read-only in a container); the product does not use it.
control_socket_disable = True
accesslog = None  # request logs come from the app's middleware, with corr_id and route
errorlog = "-"
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
limit_request_field_size = 8190


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
