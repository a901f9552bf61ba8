"""Thin Celery tasks for decisions."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from decisions.simulation_jobs import simulation_execute


# acks_late + reject_on_worker_lost (settings): a killed worker's job is delivered again and resumes
# from its checkpoint. A database outage mid-run is retried the same way.
@shared_task(name="decisions.tasks.simulation_run", acks_late=True, autoretry_for=(DatabaseError,),
             retry_backoff=5, retry_backoff_max=120, max_retries=5)
def simulation_run(*, org_id: str, simulation_id: str) -> str:
    return simulation_execute(org_id=org_id, simulation_id=simulation_id)
