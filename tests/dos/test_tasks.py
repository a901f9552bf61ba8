from datetime import timedelta

import pytest
from django.utils import timezone

from dos import scope
from dos.models import ChainAnchor, ChainHead, IdempotencyKey
from dos.tasks import OrgTask, idempotency_purge_expired, ledger_anchor_daily

pytestmark = pytest.mark.django_db


def test_the_daily_anchor_records_every_chain_head(acme, outsider):
    assert ledger_anchor_daily() >= 2
    for org in (acme, outsider):
        with scope.org_scope(org.id):
            head = ChainHead.objects.get(chain="audit")
            anchor = ChainAnchor.objects.get(chain="audit")
            assert (anchor.seq, anchor.hash) == (head.seq, head.hash)


def test_idempotency_keys_older_than_24_hours_are_purged(acme, acme_api):
    acme_api.post("/api/v1/projects", {"name": "Old", "slug": "old"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    acme_api.post("/api/v1/projects", {"name": "New", "slug": "new"}, format="json", HTTP_IDEMPOTENCY_KEY="new")
    with scope.org_scope(acme.id):
        IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_purge_expired() == 1
    with scope.org_scope(acme.id):
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_an_org_task_refuses_to_run_without_an_org_id():
    from celery import shared_task

    @shared_task(base=OrgTask, name="tests.scoped_probe")
    def scoped_probe(*, org_id):
        return str(scope.current_org_id())

    with pytest.raises(ValueError, match="tenant task"):
        scoped_probe()


def test_an_org_task_runs_in_its_orgs_scope(acme):
    from celery import shared_task

    @shared_task(base=OrgTask, name="tests.scoped_probe2")
    def scoped_probe(*, org_id):
        return str(scope.current_org_id())

    assert scoped_probe(org_id=str(acme.id)) == str(acme.id)
