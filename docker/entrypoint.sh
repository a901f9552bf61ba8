#!/bin/sh
# One image, several roles. DATABASE_URL is the application role (NOSUPERUSER NOBYPASSRLS);
# migrations use MIGRATE_DATABASE_URL (the owning role). Web, worker and beat refuse to start on a
# role that could bypass row-level security.
set -eu
role="${1:-web}"
case "$role" in
  migrate)
    DATABASE_URL="${MIGRATE_DATABASE_URL:-$DATABASE_URL}" exec python manage.py migrate --no-input ;;
  web)
    exec gunicorn -c dos/gunicorn_conf.py dos.wsgi ;;
  worker)
    # WORKER_QUEUES: the domain queues this worker consumes (celery_app/routing.py); all when unset.
    exec celery -A celery_app worker -l "${LOG_LEVEL:-INFO}" --concurrency "${WORKER_CONCURRENCY:-2}" \
      ${WORKER_QUEUES:+-Q "$WORKER_QUEUES"} ;;
  beat)
    exec celery -A celery_app beat -l "${LOG_LEVEL:-INFO}" -S django_celery_beat.schedulers:DatabaseScheduler --pidfile= ;;
  *)
    exec "$@" ;;
esac
