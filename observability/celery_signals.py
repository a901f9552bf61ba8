"""Counts Celery task transitions by task name and state for /metrics."""

from celery import signals

from observability.metrics import CELERY_TASKS


def _name(sender) -> str:
    return getattr(sender, "name", None) or str(sender)


@signals.task_prerun.connect
def _started(sender=None, **kwargs):
    CELERY_TASKS.labels(task=_name(sender), state="started").inc()


@signals.task_success.connect
def _succeeded(sender=None, **kwargs):
    CELERY_TASKS.labels(task=_name(sender), state="succeeded").inc()


@signals.task_failure.connect
def _failed(sender=None, **kwargs):
    CELERY_TASKS.labels(task=_name(sender), state="failed").inc()


@signals.task_retry.connect
def _retried(sender=None, **kwargs):
    CELERY_TASKS.labels(task=_name(sender), state="retried").inc()
