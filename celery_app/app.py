import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dos.settings")

app = Celery("dos")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Delivery guarantees (docs/runbooks/workers.md). Settings make every task acks_late with
# reject_on_worker_lost and a prefetch of one: a message is acknowledged only when its task has
# finished, so a worker killed mid-task leaves it unacknowledged and it is delivered again — which is
# why every task must be idempotent. With the Redis broker an unacknowledged message becomes visible
# again after ``visibility_timeout`` seconds; it must exceed the longest task run *and* the longest
# countdown/ETA (attachment scans back off up to 600 s), or a task still running, or still waiting,
# is delivered a second time. The restore scan runs every ``unacked_restore_interval`` seconds.
app.conf.broker_transport_options = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
    "unacked_restore_interval": float(os.environ.get("CELERY_UNACKED_RESTORE_INTERVAL", "10")),
    "unacked_restore_throttle": 1,  # scan on every interval, so a killed task waits at most timeout + interval
}
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
