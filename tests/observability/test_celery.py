"""A real worker (thread) against the real Redis broker runs beat's heartbeat job."""

from observability.services import beat_heartbeat_last
from observability.tasks import beat_heartbeat


def test_the_heartbeat_task_runs_on_a_real_worker(celery_worker):
    from observability.services import BEAT_HEARTBEAT_KEY, _redis

    _redis().delete(BEAT_HEARTBEAT_KEY)
    # The task ignores results in production (beat fires it every 30 s); ask for one here.
    result = beat_heartbeat.apply_async(ignore_result=False)
    result.get(timeout=20)
    assert result.successful()
    assert beat_heartbeat_last() is not None


def test_the_default_beat_schedule_is_installed():
    from celery_app import app

    app.loader.import_default_modules()
    app.finalize()
    assert app.conf.beat_schedule["beat-heartbeat"]["task"] == "observability.tasks.beat_heartbeat"
