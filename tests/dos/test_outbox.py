"""The outbox dispatcher: handlers per topic, at-least-once delivery in batches (SKIP LOCKED),
exponential back-off, dead letters, tenant isolation, and the back office's list and "retry now"."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from prometheus_client import REGISTRY

from dos import outbox, scope
from dos.authz import PermissionRefused
from dos.models import LedgerEntry, OutboxEvent
from dos.outbox import OutboxStateError, outbox_drain, outbox_emit, outbox_retry
from dos.tasks import outbox_drain_all
from tests.factories import UserFactory, add_member, as_member, query_count, verified_client

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def handlers(monkeypatch):
    """A registry of its own per test, starting with the apps' real registrations."""
    monkeypatch.setattr(outbox, "_handlers", {topic: list(fns) for topic, fns in outbox._handlers.items()})
    return outbox


def emit(org, topic="test.ping", key="ping:1", payload=None, at=T0) -> OutboxEvent:
    """An event as ``outbox_emit`` writes it, at a chosen time (and without the after-COMMIT kick)."""
    with scope.org_scope(org.id):
        return OutboxEvent.objects.create(org_id=org.id, topic=topic, key=key, payload=payload or {}, created_at=at,
                                          next_attempt_at=at)


def reload(org, event) -> OutboxEvent:
    with scope.org_scope(org.id):
        return OutboxEvent.objects.get(pk=event.pk)


def finalized_count(outcome: str, override: str) -> float:
    return REGISTRY.get_sample_value("dos_decisions_finalized_total", {"outcome": outcome, "override": override}) or 0


class LogLines:
    def __init__(self):
        self.lines = []

    def info(self, event, **fields):
        self.lines.append({"event": event, **fields})


def test_it_delivers_a_finalized_decision_once_to_the_registered_handler(acme, lending, desk, alice, monkeypatch,
                                                                         django_capture_on_commit_callbacks):
    from hitl.actions import case_act
    from hitl.models import Case
    from observability import decision_events
    from tenancy.roles import ROLE_PERMISSIONS
    from tests.conftest import api_client
    from tests.decisions.test_decide_api import decide
    from tests.factories import acting, make_key

    assert "decision.finalized" in outbox.registered_topics()  # observability registers it in ready()
    decide(api_client(make_key(acme, scopes=["decisions.run"])), documents_missing=["id_card"])
    with scope.org_scope(acme.id):
        case_act(case=Case.objects.get(), action="approve", actor=acting(alice, ROLE_PERMISSIONS["reviewer"]))
        event = OutboxEvent.objects.get(topic="decision.finalized")
    before = finalized_count("approve", "false")
    logs = LogLines()
    monkeypatch.setattr(decision_events, "log", logs)

    with django_capture_on_commit_callbacks(execute=True):
        first = outbox_drain(org_id=acme.id)
    with django_capture_on_commit_callbacks(execute=True):
        second = outbox_drain(org_id=acme.id)

    assert (first.delivered, second.attempted) == (1, 0)
    event = reload(acme, event)
    assert (event.status, event.attempts, event.last_error) == ("delivered", 1, "")
    assert event.delivered_at is not None
    assert finalized_count("approve", "false") == before + 1
    [line] = logs.lines
    assert (line["event_id"], line["decision_id"], line["outcome"]) == (event.pk, event.payload["decision_id"],
                                                                        "approve")


def test_emitting_a_handled_topic_kicks_a_drain_of_that_org_after_commit(acme, handlers, monkeypatch,
                                                                         django_capture_on_commit_callbacks):
    from dos.tasks import outbox_drain_org

    kicks = []
    monkeypatch.setattr(outbox_drain_org, "delay", lambda **kwargs: kicks.append(kwargs))
    handlers.register("test.ping", lambda event: None)
    with django_capture_on_commit_callbacks(execute=True), scope.org_scope(acme.id):
        outbox_emit(org_id=acme.id, topic="test.ping", key="ping:1", payload={})
        outbox_emit(org_id=acme.id, topic="test.unhandled", key="ping:2", payload={})
        assert kicks == []  # nothing before COMMIT
    assert kicks == [{"org_id": str(acme.id)}]


def test_it_backs_off_exponentially_then_gives_up_with_the_masked_error(acme, handlers, settings):
    settings.OUTBOX_MAX_ATTEMPTS, settings.OUTBOX_BACKOFF_SECONDS = 3, 30

    @handlers.outbox_handler("test.ping")
    def refuse(event):
        raise RuntimeError("card 4111 1111 1111 1111 declined for alice@acme.example " + "x" * 5000)

    event = emit(acme)
    assert outbox_drain(org_id=acme.id, now=T0).failed == 1
    event = reload(acme, event)
    assert (event.status, event.attempts, event.next_attempt_at) == ("pending", 1, T0 + dt.timedelta(seconds=30))
    assert event.last_error.startswith("RuntimeError: card [CARD")
    assert "4111" not in event.last_error and "alice@" not in event.last_error and "[EMAIL]" in event.last_error
    assert len(event.last_error) <= 1000

    assert outbox_drain(org_id=acme.id, now=T0 + dt.timedelta(seconds=29)).attempted == 0  # not due yet
    assert outbox_drain(org_id=acme.id, now=T0 + dt.timedelta(seconds=30)).failed == 1
    event = reload(acme, event)
    assert (event.attempts, event.next_attempt_at) == (2, T0 + dt.timedelta(seconds=30 + 60))  # doubled

    assert outbox_drain(org_id=acme.id, now=T0 + dt.timedelta(seconds=90)).dead == 1
    event = reload(acme, event)
    assert (event.status, event.attempts, event.delivered_at) == ("dead", 3, None)
    assert outbox_drain(org_id=acme.id, now=T0 + dt.timedelta(days=1)).attempted == 0  # dead stays dead


def test_the_backoff_is_capped(settings):
    settings.OUTBOX_BACKOFF_SECONDS, settings.OUTBOX_BACKOFF_MAX_SECONDS = 30, 3600
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 7, 8, 50)] == [30, 60, 120, 1920, 3600, 3600]


def test_an_event_is_delivered_only_when_every_handler_succeeded_and_their_writes_commit_with_it(acme, handlers):
    calls = []

    @handlers.outbox_handler("test.ping")
    def first(event):
        calls.append("first")
        outbox_emit(org_id=event.org_id, topic="test.echo", key=f"echo:{len(calls)}", payload={})

    @handlers.outbox_handler("test.ping")
    def second(event):
        if len(calls) == 1:
            raise ConnectionError("webhook endpoint unreachable")

    event = emit(acme)
    outbox_drain(org_id=acme.id, now=T0)
    event = reload(acme, event)
    assert (event.status, event.attempts, event.last_error) == ("pending", 1,
                                                                "ConnectionError: webhook endpoint unreachable")
    with scope.org_scope(acme.id):
        assert not OutboxEvent.objects.filter(topic="test.echo").exists()  # the first handler's write rolled back

    outbox_drain(org_id=acme.id, now=event.next_attempt_at)
    assert calls == ["first", "first"]  # at least once: the first handler saw the event again
    assert reload(acme, event).status == "delivered"
    with scope.org_scope(acme.id):
        assert list(OutboxEvent.objects.filter(topic="test.echo").values_list("key", flat=True)) == ["echo:2"]


def test_events_of_a_topic_nobody_handles_stay_pending_and_unattempted(acme, handlers):
    event = emit(acme, topic="test.unhandled")
    assert outbox_drain(org_id=acme.id, now=T0 + dt.timedelta(hours=1)).attempted == 0
    event = reload(acme, event)
    assert (event.status, event.attempts) == ("pending", 0)

    delivered = []
    handlers.register("test.unhandled", delivered.append)  # e.g. the next release handles it
    assert outbox_drain(org_id=acme.id, now=T0).delivered == 1
    assert [e.pk for e in delivered] == [event.pk]


def test_an_orgs_drain_sees_only_its_own_events(acme, outsider, handlers):
    seen = []
    handlers.register("test.ping", lambda event: seen.append((event.org_id, scope.current_org_id())))
    mine, theirs = emit(acme, key="acme"), emit(outsider, key="outsider")

    assert outbox_drain(org_id=acme.id, now=T0).delivered == 1
    assert seen == [(acme.id, acme.id)]  # handlers run in the event's org scope
    assert reload(acme, mine).status == "delivered"
    assert reload(outsider, theirs).status == "pending"
    with scope.org_scope(acme.id), connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM dos_outboxevent WHERE org_id = %s", [outsider.id])
        assert cur.fetchone() == (0,)  # RLS: not even raw SQL reaches the other org's rows


def test_the_beat_sweep_drains_every_org_with_due_events(acme, outsider, handlers):
    from celery_app.schedule import DEFAULT_BEAT_SCHEDULE

    delivered = []
    handlers.register("test.ping", lambda event: delivered.append(event.key))
    emit(acme, key="acme"), emit(outsider, key="outsider"), emit(acme, key="later", at=T0 + dt.timedelta(hours=1))

    assert outbox_drain_all(now=T0) == {"delivered": 2, "failed": 0, "dead": 0}
    assert sorted(delivered) == ["acme", "outsider"]
    entry = DEFAULT_BEAT_SCHEDULE["outbox-drain"]
    assert entry["task"] == "dos.tasks.outbox_drain_all" and entry["schedule"] <= dt.timedelta(seconds=30)


def test_an_events_content_is_frozen_but_its_delivery_state_is_not(acme):
    event = emit(acme, payload={"amount": 1})
    with scope.org_scope(acme.id):
        OutboxEvent.objects.filter(pk=event.pk).update(status="dead", attempts=4, last_error="boom")
        for change in ({"payload": {"amount": 2}}, {"topic": "other"}, {"key": "other"}):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                OutboxEvent.objects.filter(pk=event.pk).update(**change)
        assert OutboxEvent.objects.get(pk=event.pk).payload == {"amount": 1}


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_drainers_never_deliver_an_event_twice(handlers):
    """Drainer A takes the first batch and holds it while drainer B runs a whole pass: B skips A's
    locked rows instead of waiting for them (or taking them too)."""
    from tests.factories import make_org

    org = make_org("Concurrent Co", slug="concurrent")
    events = [emit(org, key=f"e{i}") for i in range(6)]
    delivered: list[tuple[str, int]] = []
    a_holds_batch, b_finished = threading.Event(), threading.Event()
    b_finished_while_a_held = []

    @handlers.outbox_handler("test.ping")
    def record(event):
        name = threading.current_thread().name
        delivered.append((name, event.pk))
        if name == "A" and not a_holds_batch.is_set():
            a_holds_batch.set()
            b_finished_while_a_held.append(b_finished.wait(timeout=20))

    def drainer(name, ready=None):
        try:
            if ready is not None:
                ready.wait(timeout=20)
            outbox_drain(org_id=org.id, now=T0, batch_size=3)
        finally:
            if name == "B":
                b_finished.set()
            connection.close()

    a = threading.Thread(target=drainer, args=("A",), name="A")
    b = threading.Thread(target=drainer, args=("B", a_holds_batch), name="B")
    a.start(), b.start()
    a.join(timeout=60), b.join(timeout=60)

    assert b_finished_while_a_held == [True]  # B never waited on A's locks
    ids = [pk for _name, pk in delivered]
    assert sorted(ids) == [e.pk for e in events]  # each event exactly once
    assert {pk for name, pk in delivered if name == "A"} == {e.pk for e in events[:3]}
    assert {pk for name, pk in delivered if name == "B"} == {e.pk for e in events[3:]}
    with scope.org_scope(org.id):
        assert set(OutboxEvent.objects.values_list("status", "attempts")) == {("delivered", 1)}


@pytest.fixture
def dead_events(acme, outsider):
    made = {}
    for org, key in ((acme, "decision:acme"), (outsider, "decision:outsider")):
        event = emit(org, key=key)
        with scope.org_scope(org.id):
            OutboxEvent.objects.filter(pk=event.pk).update(status="dead", attempts=8,
                                                           last_error="TimeoutError: partner timed out")
        made[key] = event
    return made


def test_the_admin_lists_the_orgs_events_with_their_delivery_state(client, olivia, acme, dead_events):
    c = verified_client(client, olivia)
    page = c.get("/admin/dos/outboxevent/?status__exact=dead").content.decode()
    assert "decision:acme" in page and "decision:outsider" not in page
    assert "TimeoutError: partner timed out" in page and "dead (gave up)" in page
    assert "retry_selected" in page
    assert "decision:acme" not in c.get("/admin/dos/outboxevent/?status__exact=delivered").content.decode()

    few = query_count(c, "/admin/dos/outboxevent/")
    for i in range(5):
        emit(acme, key=f"decision:{i}")
    assert query_count(c, "/admin/dos/outboxevent/") == few


def test_retry_now_asks_first_then_revives_a_dead_event_through_the_service(client, olivia, acme, dead_events):
    event = dead_events["decision:acme"]
    c = verified_client(client, olivia)
    data = {"action": "retry_selected", "_selected_action": [str(event.pk)]}
    confirm = c.post("/admin/dos/outboxevent/", data)
    assert confirm.status_code == 200 and b"Yes, retried 1" in confirm.content
    assert reload(acme, event).status == "dead"

    c.post("/admin/dos/outboxevent/", {**data, "confirmed": "yes"})
    event = reload(acme, event)
    assert (event.status, event.attempts) == ("pending", 0)
    with scope.org_scope(acme.id):
        assert LedgerEntry.objects.filter(chain="audit", action="outbox.retried", target=f"outbox:{event.pk}").exists()


def test_an_auditor_sees_the_outbox_but_cannot_retry(client, acme, dead_events):
    auditor = UserFactory(email="audrey@acme.example")
    add_member(acme, auditor, "auditor")
    c = verified_client(client, auditor)
    page = c.get("/admin/dos/outboxevent/").content.decode()
    assert "decision:acme" in page and "retry_selected" not in page
    event = dead_events["decision:acme"]
    c.post("/admin/dos/outboxevent/", {"action": "retry_selected", "_selected_action": [str(event.pk)],
                                       "confirmed": "yes"})
    assert reload(acme, event).status == "dead"
    actor = as_member(acme, auditor)
    with scope.org_scope(acme.id), pytest.raises(PermissionRefused):
        outbox_retry(event=event, actor=actor)


def test_a_reviewer_and_an_outsider_cannot_reach_acmes_outbox(client, alice, mallory, dead_events):
    assert verified_client(client, alice).get("/admin/dos/outboxevent/").status_code == 403
    client.logout()
    c = verified_client(client, mallory)
    assert "decision:acme" not in c.get("/admin/dos/outboxevent/").content.decode()
    response = c.get(f"/admin/dos/outboxevent/{dead_events['decision:acme'].pk}/change/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_only_dead_events_are_retried(acme, olivia):
    event = emit(acme)
    with scope.org_scope(acme.id), pytest.raises(OutboxStateError, match="only dead events"):
        outbox_retry(event=event, actor=as_member(acme, olivia), now=timezone.now())


def test_platform_staff_see_every_orgs_dead_events(client, dead_events):
    from tenancy.models import PlatformRole

    staff = UserFactory(email="ops@decisionos.example")
    PlatformRole.objects.create(user=staff, role="platform_ops")
    page = verified_client(client, staff).get("/admin/dos/outboxevent/?status__exact=dead").content.decode()
    assert "decision:acme" in page and "decision:outsider" in page


def test_an_outsider_can_neither_see_nor_retry_another_orgs_events(client, mallory, acme, dead_events):
    event = dead_events["decision:acme"]
    c = verified_client(client, mallory)
    assert "decision:acme" not in c.get("/admin/dos/outboxevent/").content.decode()
    assert c.get(f"/admin/dos/outboxevent/{event.pk}/change/").status_code in (302, 404)
    c.post("/admin/dos/outboxevent/", {"action": "retry_selected", "_selected_action": [str(event.pk)],
                                       "confirmed": "yes"})
    assert reload(acme, event).status == "dead"
