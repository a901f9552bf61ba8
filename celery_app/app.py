import os

from celery import Celery, signals

from celery_app.routing import DEFAULT_QUEUE, TASK_QUEUES, route_task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dos.settings")

app = Celery("dos")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# One queue per domain (celery_app/routing.py); a worker without -Q consumes every declared queue.
app.conf.task_queues = TASK_QUEUES
app.conf.task_default_queue = DEFAULT_QUEUE
app.conf.task_routes = (route_task,)

# When the worker loses the broker, the messages of the tasks it is running are delivered again
# elsewhere; cancelling those tasks avoids running them twice at the same time.
app.conf.worker_cancel_long_running_tasks_on_connection_loss = True


@app.on_after_finalize.connect
def _install_default_schedule(sender, **kwargs):
    from celery_app.schedule import DEFAULT_BEAT_SCHEDULE

    # django-celery-beat's DatabaseScheduler copies these into the database on start; operators then
    # edit them in the admin (Periodic tasks), and a later start does not overwrite their changes
    # to schedules it already knows.
    sender.conf.beat_schedule = {**DEFAULT_BEAT_SCHEDULE, **(sender.conf.beat_schedule or {})}


@signals.worker_init.connect
@signals.beat_init.connect
def _guard_db_role(**kwargs):
    from dos.db_role import UnsafeDatabaseRole, assert_safe_db_role

    try:
        assert_safe_db_role()
    except UnsafeDatabaseRole as exc:
        # Celery logs and swallows exceptions from signal handlers; SystemExit is not swallowed.
        raise SystemExit(f"DecisionOS: {exc}") from None
