"""Thin Celery tasks for observability."""

from celery import shared_task
from django.utils import timezone

from observability.services import beat_heartbeat_record


@shared_task(name="observability.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    beat_heartbeat_record(at=timezone.now())
