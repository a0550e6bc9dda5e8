"""Rate limits on the shared cache (Redis in production): fixed windows, atomic increments."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest


def rate_limit_hit(*, scope: str, key: str, limit: int, window_seconds: int = 3600) -> bool:
    """Count one attempt for (scope, key); True when it is over the limit for the current window."""
    window = int(time.time() // window_seconds)
    # Hashed: the key may be an address or an IP, and cache keys end up in tools and logs.
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"paperboy:ratelimit:{scope}:{digest}:{window}"
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return _redis_count(backend, cache_key, window_seconds + 60) > limit
    # add() then incr() is atomic on Redis and on locmem; the entry outlives its window
    # only briefly.
    if cache.add(cache_key, 1, timeout=window_seconds + 60):
        return limit < 1
    try:
        count = cache.incr(cache_key)
    except ValueError:  # evicted between add() and incr()
        cache.set(cache_key, 1, timeout=window_seconds + 60)
        count = 1
    return count > limit


_clients: dict[int, Any] = {}


def _redis_count(backend: RedisCache, cache_key: str, ttl: int) -> int:
    """INCR and a first EXPIRE in one round trip (a hot path: a sign-up pays for two counters)."""
    key = backend.make_and_validate_key(cache_key)
    # Django builds a new redis.Redis (and its table of ~170 reply parsers) for every cache call;
    # one per connection pool is enough: a client is thread-safe, the pool hands out connections.
    # (A kept client holds its pool, so the pool's id cannot be reused by another.)
    # django-stubs leave out RedisCache._cache, Django's private RedisCacheClient.
    cache_client = backend._cache  # type: ignore[attr-defined]
    pool = cache_client._get_connection_pool(True)
    client = _clients.get(id(pool))
    if client is None:
        client = _clients[id(pool)] = cache_client.get_client(key, write=True)
    pipe = client.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, ttl, nx=True)
    count, _ = pipe.execute()
    return int(count)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the one that PAPERBOY_TRUSTED_PROXIES proxies saw."""
    proxies = settings.PAPERBOY_TRUSTED_PROXIES
    if proxies > 0:
        # Each trusted proxy appends the address it received the request from; entries further
        # left were written by the client and cannot be trusted.
        hops = [
            hop.strip()
            for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if hop.strip()
        ]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "")
