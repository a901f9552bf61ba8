"""Celery queues per domain (celery_app/routing.py): every task lands on its domain's queue, and
production runs a worker for every queue."""

from __future__ import annotations

from pathlib import Path

import yaml

from celery_app.app import app
from celery_app.routing import DEFAULT_QUEUE, QUEUES, queue_for

ROOT = Path(__file__).resolve().parents[1]


def product_tasks() -> list[str]:
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def test_every_task_goes_to_the_queue_of_its_domain():
    tasks = product_tasks()
    assert tasks, "no tasks registered"
    for name in tasks:
        routed = app.amqp.router.route({}, name)["queue"].name
        owner = name.split(".", 1)[0]
        expected = owner if owner in QUEUES else DEFAULT_QUEUE
        assert routed == expected == queue_for(name), name
    assert {queue_for(n) for n in tasks} >= {"decisions", "hitl", "billing", "ops"}


def test_a_worker_without_queues_consumes_every_queue():
    """make run and the tests start one worker without -Q: it must hear every domain."""
    assert {q.name for q in app.amqp.queues.values()} == set(QUEUES)


def test_production_runs_a_worker_for_every_queue_with_its_own_concurrency():
    compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
    consumed: list[str] = []
    for name, service in compose["services"].items():
        if service.get("command") == ["worker"]:
            env = service["environment"]
            assert env.get("WORKER_QUEUES"), f"{name} names no queues"
            assert int(env["WORKER_CONCURRENCY"]) >= 1, name
            consumed += env["WORKER_QUEUES"].split(",")
    assert sorted(consumed) == sorted(QUEUES), "each queue is consumed by exactly one worker service"


def test_beat_schedules_name_real_tasks_that_route():
    from celery_app.schedule import DEFAULT_BEAT_SCHEDULE

    tasks = set(product_tasks())
    for entry in DEFAULT_BEAT_SCHEDULE.values():
        assert entry["task"] in tasks
        assert queue_for(entry["task"]) in QUEUES
