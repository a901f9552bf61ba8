"""The Redis circuit breaker: after a failure, calls fail at once instead of waiting out the
timeout again; once its time is up one call tries Redis, and an answer closes it."""

from __future__ import annotations

import pytest
import redis
from django.test import override_settings

from dos import redis_client
from dos.redis_client import RedisUnavailable, redis_state

REDIS_GONE = "redis://127.0.0.1:1/0"


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(redis_client, "monotonic", lambda: now[0])
    redis_client.breaker.reset()
    yield now
    redis_client.breaker.reset()


def test_it_fails_fast_while_open_and_tries_again_when_its_time_is_up(clock, settings):
    with override_settings(REDIS_URL=REDIS_GONE):
        client = redis_client.redis_client()
        with pytest.raises(redis.ConnectionError) as first:
            client.get("k")
        assert not isinstance(first.value, RedisUnavailable)  # really tried
        assert redis_state()["breaker"] == "open" and redis_state()["failures"] == 1
        with pytest.raises(RedisUnavailable):
            client.pipeline(transaction=False).incr("k").execute()  # pipelines too, without trying
        assert redis_state()["failures"] == 1
        clock[0] += settings.REDIS_RETRY_SECONDS + 0.1
        with pytest.raises(redis.ConnectionError) as trial:
            client.get("k")
        assert not isinstance(trial.value, RedisUnavailable) and redis_state()["failures"] == 2
    clock[0] += settings.REDIS_RETRY_SECONDS + 0.1
    redis_client.redis_client().set("dos:test:breaker", "1", ex=60)  # Redis answers: closed again
    assert redis_state() == {"breaker": "closed", "failures": 2, "last_error": "", "retry_in_s": 0.0}


def test_a_command_error_is_an_answer_not_an_outage(clock):
    client = redis_client.redis_client()
    client.set("dos:test:breaker-str", "text", ex=60)
    with pytest.raises(redis.ResponseError):
        client.incr("dos:test:breaker-str")
    assert redis_state()["breaker"] == "closed"
