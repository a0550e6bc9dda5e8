"""The site's Redis cache keeps one redis-py client per connection pool, shared by threads."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from django.core.cache import caches

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.SharedClientRedisCache",
            "LOCATION": os.environ.get("REDIS_URL", ""),
            "KEY_PREFIX": f"test-cache-{uuid.uuid4().hex}",
        }
    }
    return caches["default"]


def test_every_call_uses_the_same_client_and_the_cache_works(redis_cache) -> None:
    redis_cache.set("a", 1, timeout=30)

    # Kept, not their ids: a freed client's id may be given to the next one.
    clients = [redis_cache._cache.get_client(write=True) for _ in range(5)]

    assert redis_cache.get("a") == 1
    assert redis_cache.incr("a") == 2
    assert all(client is clients[0] for client in clients)
    redis_cache.delete("a")


def test_threads_share_the_client_without_mixing_their_answers(redis_cache) -> None:
    errors: list[str] = []

    def work(n: int) -> None:
        for i in range(50):
            redis_cache.set(f"t{n}", f"{n}-{i}", timeout=30)
            got = redis_cache.get(f"t{n}")
            if got != f"{n}-{i}":
                errors.append(f"thread {n} read {got!r}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    redis_cache.delete_many([f"t{n}" for n in range(8)])
