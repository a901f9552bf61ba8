"""The data-key cache is per process; an erasure in another process drops only that process's entry.
A cached key therefore seals without asking the database for at most ``RECHECK_SECONDS``; after that
the key row is read again, and a subject erased elsewhere is refused (``Erased``) instead of getting
values nobody can ever open. The cache's clock is injected."""

from __future__ import annotations

import pytest
from django.utils import timezone

from dos import scope
from dos.authz import system_actor
from privacy.models import SubjectKey
from privacy.vault import Erased, seal
from privacy.vault.hooks import DECISION_TABLE  # decision inputs: what a job reads for decision.replay
from privacy.vault.keystore import create_keystore, reset_provider
from privacy.vault.services import RECHECK_SECONDS, data_keys

pytestmark = pytest.mark.django_db
JOB = system_actor("test")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(tmp_path, settings):
    settings.DOS_VAULT_KEYSTORE = str(create_keystore(tmp_path / "keystore.json"))
    reset_provider()
    data_keys.clear()
    fake, real = Clock(), data_keys.clock
    data_keys.clock = fake
    yield fake
    data_keys.clock = real
    data_keys.clear()
    reset_provider()


def _seal(org):
    return seal(actor=JOB, org_id=org.id, subject_token="vt_c", table=DECISION_TABLE, row="1", field="f", plaintext=b"x")


def test_a_subject_erased_by_another_process_is_refused_after_the_recheck_interval(
        acme, clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _seal(acme)  # the key is cached once committed
    assert data_keys.get(acme.id, "vt_c") is not None
    # Another worker erases the subject: the row changes, this process's cache does not hear of it.
    with scope.org_scope(acme.id):
        SubjectKey.objects.filter(org_id=acme.id, subject_token="vt_c").update(wrapped_key=None,
                                                                                erased_at=timezone.now())
    clock.now += RECHECK_SECONDS / 2
    _seal(acme)  # within the interval the cache answers (bounded, documented)
    clock.now += RECHECK_SECONDS
    with pytest.raises(Erased):
        _seal(acme)
    assert data_keys.get(acme.id, "vt_c") is None


def test_a_live_key_is_rechecked_and_kept(acme, clock, django_capture_on_commit_callbacks, django_assert_num_queries):
    with django_capture_on_commit_callbacks(execute=True):
        _seal(acme)
    clock.now += RECHECK_SECONDS * 3
    _seal(acme)  # one read of the key row, then cached again
    with django_assert_num_queries(0):
        _seal(acme)
