"""Rate limits on the shared cache (Redis in production): fixed windows, atomic increments."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest

from subscriptions.addresses import address_key


def rate_limit_hit(*, scope: str, key: str, limit: int, window_seconds: int = 3600) -> bool:
    """Count one attempt for (scope, key); True when it is over the limit for the current window.

    On Redis the sign-up counts its limits in one script instead (signup_check).
    """
    cache_key = _window_key(scope, key, window_seconds)
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


def _window_key(scope: str, key: str, window_seconds: int) -> str:
    """The counter of (scope, key) for the current fixed window."""
    window = int(time.time() // window_seconds)
    return f"paperboy:ratelimit:{scope}:{_digest(key)}:{window}"


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
        return SignupMailClaim(False, retry_at=_next_utc_day())
    return SignupMailClaim(True)


def _next_utc_day() -> dt.datetime:
    """The start of the next day-long window (a UTC day) of the day's email count."""
    next_day = (int(time.time()) // _DAY_SECONDS + 1) * _DAY_SECONDS
    return dt.datetime.fromtimestamp(next_day, tz=dt.UTC)


@dataclass(frozen=True)
class SignupCheck:
    """A sign-up's limits, in the order the view applies them: the first one refused, if any."""

    refused: Literal["ip", "address", "mail"] | None = None
    mail: SignupMailClaim = SignupMailClaim(True)  # refused as "mail": why, and until when


def signup_check(*, ip: str, email: str | None, now: dt.datetime) -> SignupCheck:
    """Count a sign-up against every limit it meets, stopping at the first it is over.

    The network's hourly count always; with an address (a valid form), then the address's hourly
    count and its sign-up email (signup_mail_claim). On Redis, all of it is one script: one round
    trip instead of four, atomic, so two sign-ups of one address in the same instant still get
    one email between them.
    """
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return _signup_check_redis(backend, ip=ip, email=email, now=now)
    if rate_limit_hit(scope="signup-ip", key=ip, limit=settings.PAPERBOY_SIGNUP_LIMIT_PER_IP):
        return SignupCheck("ip")
    if email is None:
        return SignupCheck()
    if rate_limit_hit(
        scope="signup-address",
        key=address_key(email),
        limit=settings.PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS,
    ):
        return SignupCheck("address")
    claim = signup_mail_claim(email=email, now=now)
    return SignupCheck(None if claim.granted else "mail", claim)


# KEYS: the network's counter, then with an address: its counter, its last sign-up email's time,
# its day's count of emails. ARGV: each counter's limit and time to live, then the time now and
# the interval between two emails. The same steps as signup_check's other branch, in its order.
_SIGNUP_SCRIPT = """
local function over(key, limit, ttl)
    local count = redis.call('INCR', key)
    redis.call('EXPIRE', key, ttl, 'NX')
    return count > tonumber(limit)
end
if over(KEYS[1], ARGV[1], ARGV[2]) then return {'ip'} end
if #KEYS == 1 then return {'ok'} end
if over(KEYS[2], ARGV[3], ARGV[4]) then return {'address'} end
local sent = redis.call('GET', KEYS[3])
if sent then return {'recent', sent} end
redis.call('SET', KEYS[3], ARGV[7], 'EX', ARGV[8])
if over(KEYS[4], ARGV[5], ARGV[6]) then
    redis.call('DEL', KEYS[3])
    return {'day'}
end
return {'ok'}
"""
_signup_script: Any = None  # redis-py's Script, made with the first client that runs it


def _signup_check_redis(
    backend: RedisCache, *, ip: str, email: str | None, now: dt.datetime
) -> SignupCheck:
    global _signup_script  # noqa: PLW0603 (made once per process)
    hour = 3600
    names = [_window_key("signup-ip", ip, hour)]
    args: list[int | str] = [settings.PAPERBOY_SIGNUP_LIMIT_PER_IP, hour + 60]
    if email is not None:
        address = address_key(email)
        names += [
            _window_key("signup-address", address, hour),
            f"paperboy:signup-mail-at:{_digest(address)}",
            _window_key("signup-mail-day", address, _DAY_SECONDS),
        ]
        args += [
            settings.PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS,
            hour + 60,
            SIGNUP_MAILS_PER_DAY,
            _DAY_SECONDS + 60,
            repr(now.timestamp()),
            int(SIGNUP_MAIL_INTERVAL.total_seconds()),
        ]
    keys = [backend.make_and_validate_key(name) for name in names]
    client = backend._cache.get_client(keys[0], write=True)  # type: ignore[attr-defined]
    if _signup_script is None:
        _signup_script = client.register_script(_SIGNUP_SCRIPT)
    outcome, *rest = _signup_script(keys=keys, args=args, client=client)
    match outcome.decode() if isinstance(outcome, bytes) else outcome:
        case "ip":
            return SignupCheck("ip")
        case "address":
            return SignupCheck("address")
        case "recent":
            sent_at = dt.datetime.fromtimestamp(float(rest[0]), tz=dt.UTC)
            retry_at = sent_at + SIGNUP_MAIL_INTERVAL
            return SignupCheck("mail", SignupMailClaim(False, sent_at=sent_at, retry_at=retry_at))
        case "day":
            return SignupCheck("mail", SignupMailClaim(False, retry_at=_next_utc_day()))
    return SignupCheck()


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
