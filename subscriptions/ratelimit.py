"""Rate limits on the shared cache (Redis in production): fixed windows, atomic increments."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest

from subscriptions.addresses import address_key


def rate_limit_hit(*, scope: str, key: str, limit: int, window_seconds: int = 3600) -> bool:
    """Count one attempt for (scope, key); True when it is over the limit for the current window."""
    window = int(time.time() // window_seconds)
    cache_key = f"paperboy:ratelimit:{scope}:{_digest(key)}:{window}"
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


# Sign-up emails (a confirmation, or a confirmed reader's manage link) to one address: one every
# 5 minutes, so that a reader who closed the tab or deleted the email gets another within minutes,
# and at most 5 a UTC day, so that a stranger can make us mail someone's inbox no more than that
# (it was up to 24 a day at one an hour), which also keeps our sending reputation.
SIGNUP_MAIL_INTERVAL = dt.timedelta(minutes=5)
SIGNUP_MAILS_PER_DAY = 5
_DAY_SECONDS = 86400


@dataclass(frozen=True)
class SignupMailClaim:
    """Whether a sign-up may mail its address now; if not, when the last one went and when next."""

    granted: bool
    sent_at: dt.datetime | None = None  # the last one, when refused for being too recent
    retry_at: dt.datetime | None = None  # when the reader may ask again, when refused


def _digest(key: str) -> str:
    # Hashed: the key may be an address or an IP, and cache keys end up in tools and logs.
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def signup_mail_claim(*, email: str, now: dt.datetime) -> SignupMailClaim:
    """Take the right to send this address a sign-up email now, or say why not and until when.

    Decided here, in the request, from the cache alone: every sign-up of an address counts
    alike, whether it is new, pending or subscribed, so the answer tells a stranger only that
    someone asked for it lately, as the per-address limit always did, and the page never
    promises an email the worker then drops.
    """
    recent_key = f"paperboy:signup-mail:{_digest(address_key(email))}"
    interval = int(SIGNUP_MAIL_INTERVAL.total_seconds())
    if not cache.add(recent_key, now.timestamp(), timeout=interval):
        sent = cache.get(recent_key)
        if sent is not None:
            sent_at = dt.datetime.fromtimestamp(sent, tz=dt.UTC)
            return SignupMailClaim(False, sent_at=sent_at, retry_at=sent_at + SIGNUP_MAIL_INTERVAL)
        cache.add(recent_key, now.timestamp(), timeout=interval)  # it expired in between
    if rate_limit_hit(
        scope="signup-mail-day",
        key=address_key(email),
        limit=SIGNUP_MAILS_PER_DAY,
        window_seconds=_DAY_SECONDS,
    ):
        cache.delete(recent_key)  # nothing goes out: the next ask must not be told one did
        next_day = (int(time.time()) // _DAY_SECONDS + 1) * _DAY_SECONDS
        return SignupMailClaim(False, retry_at=dt.datetime.fromtimestamp(next_day, tz=dt.UTC))
    return SignupMailClaim(True)


def _redis_count(backend: RedisCache, cache_key: str, ttl: int) -> int:
    """INCR and a first EXPIRE in one round trip (a hot path: a sign-up pays for two counters)."""
    key = backend.make_and_validate_key(cache_key)
    # django-stubs leave out RedisCache._cache, Django's private RedisCacheClient (the site's,
    # config.cache, keeps one redis-py client per pool).
    client = backend._cache.get_client(key, write=True)  # type: ignore[attr-defined]
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
