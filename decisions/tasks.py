"""Thin Celery tasks for decisions."""

from __future__ import annotations

from celery import shared_task

from decisions.simulation_jobs import simulation_execute


@shared_task(name="decisions.tasks.simulation_run", acks_late=True)
def simulation_run(*, org_id: str, simulation_id: str) -> str:
    return simulation_execute(org_id=org_id, simulation_id=simulation_id)
