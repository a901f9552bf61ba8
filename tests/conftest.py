"""Shared fixtures. Tests run against the embedded (or configured) Postgres with RLS and Redis.

`make test` runs pytest inside `python -m dos.devstack exec`, which exports DATABASE_URL (a
NOSUPERUSER NOBYPASSRLS role with CREATEDB for the throwaway test database), REDIS_URL and, for
tests that must act as the DBA, DATABASE_SUPERUSER_URL.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def superuser_dsn() -> str:
    dsn = os.environ.get("DATABASE_SUPERUSER_URL")
    if not dsn:
        pytest.fail("DATABASE_SUPERUSER_URL is not set: run the suite through `make test`.")
    return dsn


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (thread, solo pool) consuming from the real Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from celery_app import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker
