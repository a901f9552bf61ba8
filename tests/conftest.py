"""Shared fixtures and the named actors of every test base (STYLE §3).

Acme Lending is the tenant under test: alice is a reviewer, bob a senior reviewer, olivia the
owner. Outsider Co is the other tenant: mallory works there and must never see Acme's data.

`make test` runs pytest inside `python -m devstack exec`, which exports DATABASE_URL (a
NOSUPERUSER NOBYPASSRLS role with CREATEDB for the throwaway test database), REDIS_URL and, for
tests that must act as the DBA, DATABASE_SUPERUSER_URL.
"""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

from dos import scope
from tests.factories import UserFactory, add_member, as_member, make_key, make_org

LOAN_SCREENING = "loan_screening"  # the purpose Acme's lending decisions are made for


@pytest.fixture
def superuser_dsn() -> str:
    dsn = os.environ.get("DATABASE_SUPERUSER_URL")
    if not dsn:
        pytest.fail("DATABASE_SUPERUSER_URL is not set: run the suite through `make test`.")
    return dsn


@pytest.fixture
def celery_worker(transactional_db, settings):
    """A real Celery worker (thread, solo pool) consuming from the real Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from celery_app import app

    # The in-process worker shares the suite's role, the owner under `make test`; the startup guard
    # is tested on real processes (tests/dos/test_guard.py).
    settings.DOS_ALLOW_UNSAFE_DB_ROLE = True

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


@pytest.fixture
def acme(db):
    return make_org("Acme Lending", plan="pro", slug="acme")


@pytest.fixture
def outsider(db):
    return make_org("Outsider Co", plan="pilot", slug="outsider")


@pytest.fixture
def olivia(acme):
    user = UserFactory(email="olivia@acme.example", full_name="Olivia Owner")
    add_member(acme, user, "owner")
    return user


@pytest.fixture
def alice(acme):
    user = UserFactory(email="alice@acme.example", full_name="Alice Reviewer")
    add_member(acme, user, "reviewer")
    return user


@pytest.fixture
def bob(acme):
    user = UserFactory(email="bob@acme.example", full_name="Bob Senior")
    add_member(acme, user, "senior_reviewer")
    return user


@pytest.fixture
def mallory(outsider):
    user = UserFactory(email="mallory@outsider.example", full_name="Mallory Outsider")
    add_member(outsider, user, "owner")
    return user


ADMIN_SCOPES = ["project.manage", "keys.manage", "members.manage", "audit.read", "decisions.run", "decisions.read",
                "policy.read"]


@pytest.fixture
def acme_key(acme):
    return make_key(acme, scopes=ADMIN_SCOPES, name="acme admin key")


@pytest.fixture
def outsider_key(outsider):
    return make_key(outsider, scopes=ADMIN_SCOPES, name="outsider admin key")


def api_client(created_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created_key.secret}")
    return client


@pytest.fixture
def acme_api(acme_key):
    return api_client(acme_key)


@pytest.fixture
def outsider_api(outsider_key):
    return api_client(outsider_key)


@pytest.fixture
def screening_basis(acme):
    """Acme screens loan applications on the lawful basis of the contract the applicant asked for
    (PIPA Art. 15(1)4), so its decisions need no consent record; the consent tests
    (tests/privacy/test_pep.py) take that basis away."""
    from dos.authz import system_actor
    from privacy.settings import privacy_settings_save

    with scope.org_scope(acme.id):
        return privacy_settings_save(org_id=acme.id, actor=system_actor("test"),
                                     lawful_bases={LOAN_SCREENING: "contract"})


@pytest.fixture
def lending(acme, olivia, bob, screening_basis):
    """Acme with the lending pack published (olivia authors, bob approves), deciding on that basis."""
    from decisions.packs.install import pack_install
    from tests.factories import default_project

    with scope.org_scope(acme.id):
        [version] = pack_install(project=default_project(acme), domain="lending_brokerage", author=as_member(acme, olivia),
                                     approver=as_member(acme, bob))
    return version


# Human review: Acme's review desk (review → burst → senior, plus a documents queue routed by rule)
# with alice (reviewer, documents skill), carol (a second reviewer, so that four-eyes and
# conflict-of-interest cases have someone else to go to) and bob (senior reviewer) on it.
@pytest.fixture
def carol(acme):
    user = UserFactory(email="carol@acme.example", full_name="Carol Reviewer")
    add_member(acme, user, "reviewer")
    return user


@pytest.fixture
def desk(acme, alice, bob, carol):
    from hitl.desk import desk_install_defaults, reviewer_profile_save
    from hitl.models import Queue

    with scope.org_scope(acme.id):
        queues = desk_install_defaults(org_id=acme.id, actor="system:test")
        queues["documents"] = Queue.objects.create(
            org_id=acme.id, name="documents", rank=10, routing_rule='"DOCS_MISSING" in reason_codes',
            skills=["docs"], sla_policy=queues["review"].sla_policy, overflow_queue=queues["burst"])
        reviewer_profile_save(org_id=acme.id, user=alice, skills=["docs"], weight=1, max_concurrent=10, actor="system:test")
        reviewer_profile_save(org_id=acme.id, user=carol, skills=[], weight=1, max_concurrent=10, actor="system:test")
        reviewer_profile_save(org_id=acme.id, user=bob, skills=["senior"], weight=1, max_concurrent=10, actor="system:test")
    return queues
