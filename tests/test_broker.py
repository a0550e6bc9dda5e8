"""The Celery broker's Redis transport keeps one client for its publishes (config.broker)."""

from __future__ import annotations

import os
import uuid
from typing import Any
from unittest import mock

import pytest
from kombu import Connection, Queue

from config.broker import Channel
from tests.helpers import clean_env, run_python


@pytest.mark.parametrize(
    ("redis_url", "transport"),
    [
        ("redis://127.0.0.1:6379/0", "config.broker:Transport"),
        # TLS and the rest stay with kombu's own choice of transport.
        ("rediss://cache.example:6380/0?ssl_cert_reqs=required", "None"),
        ("", "None"),
    ],
)
def test_the_broker_uses_the_transport_for_plain_redis_urls(tmp_path, redis_url, transport) -> None:
    env = clean_env(tmp_path, DEBUG="true", REDIS_URL=redis_url)
    code = (
        "import django; django.setup(); from config.celery import app;"
        "print(app.conf.broker_transport)"
    )
    result = run_python(code, env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == transport


@pytest.mark.redis
def test_a_channel_publishes_every_message_through_one_client() -> None:
    queue = Queue(f"test-broker-{uuid.uuid4().hex}")
    with Connection(os.environ["REDIS_URL"], transport="config.broker:Transport") as connection:
        assert isinstance(connection.default_channel, Channel)
        channel: Any = connection.default_channel  # its private attributes are checked below
        with mock.patch.object(channel, "_create_client", wraps=channel._create_client) as made:
            producer = connection.Producer()
            for number in range(3):
                producer.publish({"n": number}, routing_key=queue.name, declare=[queue])
            received = connection.SimpleQueue(queue.name)
            bodies = [received.get(timeout=5).payload for _ in range(3)]
            received.clear()
            received.close()

        assert bodies == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert made.call_count == 1  # kombu's own channel makes one per publish

        # A channel whose pool was replaced (a reconnect) publishes through the new pool.
        old = channel._publisher
        channel._pool = None
        producer.publish({"n": 3}, routing_key=queue.name, declare=[queue])
        assert channel._publisher is not old
        assert channel._publisher.connection_pool is channel.pool
        channel.client.delete(queue.name)
