"""Celery queues per domain, so one domain's backlog never delays another's work.

A task goes to the queue of the app that defines it (``decisions.tasks.simulation_run`` →
``decisions``); platform work (``dos``, ``observability``, ``tenancy``) goes to ``ops``. Every queue is
declared, so a worker started without ``-Q`` (``make run``, the tests) consumes them all, while
production runs one worker service per queue with its own concurrency (docker/compose.yaml,
``WORKER_QUEUES`` / ``WORKER_CONCURRENCY``). Add a domain here and a worker service there together;
tests/test_queues.py holds them to each other.
"""

from __future__ import annotations

from kombu import Queue

# queue → the apps whose tasks it runs
QUEUES: dict[str, tuple[str, ...]] = {
    "decisions": ("decisions",),
    "hitl": ("hitl",),
    "billing": ("billing",),
    "privacy": ("privacy",),
    "catalog": ("catalog",),
    "modelops": ("modelops",),
    "webhooks": ("webhooks",),
    "ops": ("dos", "observability", "tenancy", "celery_app"),
}
DEFAULT_QUEUE = "ops"
_BY_APP = {app: queue for queue, apps in QUEUES.items() for app in apps}

TASK_QUEUES = tuple(Queue(name, routing_key=name) for name in QUEUES)


def queue_for(task_name: str) -> str:
    """The queue of a task, by the app that defines it."""
    return _BY_APP.get(task_name.split(".", 1)[0], DEFAULT_QUEUE)


def route_task(name, args, kwargs, options, task=None, **kw):
    """Celery router (``task_routes``)."""
    queue = queue_for(name)
    return {"queue": queue, "routing_key": queue}
