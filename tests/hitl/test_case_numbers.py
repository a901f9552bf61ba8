"""Case numbers count per org (dos.counters): each org starts at 1, and cases opened at the same time
in one org get distinct consecutive numbers."""

import threading

import pytest
from django.db import transaction

from dos import scope
from hitl.choices import CaseSource
from hitl.desk import desk_install_defaults
from hitl.services import case_open
from tests.dos.test_citus_schema import blocked_on_a_lock, in_thread
from tests.factories import default_project


def _open(org):
    with scope.org_scope(org.id):
        return case_open(org_id=org.id, project=default_project(org), source=CaseSource.API,
                         actor="system:test").number


@pytest.mark.django_db
def test_it_numbers_each_orgs_cases_from_one(acme, outsider):
    with transaction.atomic():
        assert [_open(acme), _open(acme), _open(outsider), _open(acme), _open(outsider)] == [1, 2, 1, 3, 2]


@pytest.mark.django_db(transaction=True)
def test_cases_opened_at_once_in_one_org_get_consecutive_numbers(acme, outsider):
    for org in (acme, outsider):
        with transaction.atomic(), scope.org_scope(org.id):
            desk_install_defaults(org_id=org.id, actor="system:test")
    release = threading.Event()
    holder, first, first_done = in_thread(lambda: _open(acme), hold=release)
    assert first_done.wait(timeout=30) and first == [1]
    waiter, second, _ = in_thread(lambda: _open(acme))
    assert blocked_on_a_lock()
    with transaction.atomic():
        assert _open(outsider) == 1  # another org is not held up
    release.set()
    holder.join(timeout=30)
    waiter.join(timeout=30)
    assert (first, second) == ([1], [2])
