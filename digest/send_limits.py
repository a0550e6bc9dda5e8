"""Sending within the email provider's limits: messages per second and per UTC day, all workers.

The rate is `limits`' moving window (the strategy behind Flask-Limiter and SlowAPI), the day's
count its counter under a key per UTC date; both live in Redis with REDIS_URL, so every worker
process on every machine takes from one allowance. Without REDIS_URL (one machine, `make run`)
they live in the process's memory, and each worker process counts alone.

A batch takes its tokens right before it hands its emails to the provider, so the provider sees
what the limiter allowed. Only email counts: a feed-only reader's digest reaches no provider, and
team channels post to Slack, Discord or a webhook, which are not the email provider and answer
for their own limits (the batch honours their 429's Retry-After).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from config.warmup import warmup_parse
from subscriptions.models import Subscriber

logger = logging.getLogger(__name__)

# The moving window lasts a little longer than the second the provider counts, so that a
# hand-over starting up to this long after its tokens were taken (a busy machine, a slow
# connection) still lands in a second that holds no more than the rate. It costs the rate as much:
# 50/s sends about 47.6 a second.
RATE_GUARD_SECONDS = 0.05
# How much of PAPERBOY_CLAIM_TIMEOUT_MINUTES a batch may spend waiting for the rate's turn before
# it gives its rows back: the rest is for sending and recording, well before the claim looks stuck.
CLAIM_WAIT_SHARE = 0.5
# Every key in Redis starts with this (the tests give each test its own).
KEY_PREFIX = "paperboy-send"
# When the store cannot be reached: the batch gives its rows back and tries again after this.
STORAGE_RETRY_SECONDS = 30.0
_PAUSE_MIN_SECONDS = 0.005
_DAY_KEY_SECONDS = 2 * 86_400  # a UTC day's count outlives its day, whenever it began


def counts(via: str) -> bool:
    """Whether a digest going this way (a SubscriberVia) counts against the provider's limits."""
    return via == Subscriber.Via.EMAIL


# --- The store --------------------------------------------------------------------------------


class _RatePerSecond(RateLimitItemPerSecond):
    """N a second, over a window of 1 + RATE_GUARD_SECONDS seconds."""

    def get_expiry(self) -> float:  # type: ignore[override]  # limits' storages take a float
        return (1 + RATE_GUARD_SECONDS) * self.multiples


class _RedisStorage(RedisStorage):
    """limits' Redis storage, whose moving window may end between two whole seconds.

    limits' script gives Redis's EXPIRE, which takes whole seconds, the window's own length; so
    here the window's clock runs faster by ceil(window) / window: on it the window is a whole
    number of seconds, and the list of its entries lives at least as long as the window.
    """

    def acquire_entry(self, key: str, limit: int, expiry: float, amount: int = 1) -> bool:
        whole, scale = _whole_seconds(expiry)
        now = time.time() * scale
        arguments = [now, limit, whole, amount]
        return bool(self.lua_acquire_moving_window([self.prefixed_key(key)], arguments))

    def get_moving_window(self, key: str, limit: int, expiry: float) -> tuple[float, int]:
        whole, scale = _whole_seconds(expiry)
        now = time.time() * scale
        window = self.lua_moving_window([self.prefixed_key(key)], [now - whole, limit])
        if window:
            return float(window[0]) / scale, int(window[1])
        return now / scale, 0


def _whole_seconds(expiry: float) -> tuple[int, float]:
    whole = max(math.ceil(expiry), 1)
    return whole, whole / expiry


@dataclass(frozen=True)
class _Limiter:
    storage: Storage
    window: MovingWindowRateLimiter


_limiters: dict[tuple[str, str], _Limiter] = {}
# A worker's threads share one store: two made at once would each count alone, in memory.
_limiters_lock = threading.Lock()


def _limiter() -> _Limiter:
    """This process's store of the limits (one Redis connection pool), made on first use."""
    url, prefix = settings.REDIS_URL, KEY_PREFIX
    with _limiters_lock:
        return _limiters.get((url, prefix)) or _limiter_make(url, prefix)


def _limiter_make(url: str, prefix: str) -> _Limiter:
    storage: Storage = (
        _RedisStorage(
            url, key_prefix=prefix, wrap_exceptions=True, socket_timeout=5, socket_connect_timeout=5
        )
        if url
        else MemoryStorage()
    )
    limiter = _limiters[(url, prefix)] = _Limiter(storage, MovingWindowRateLimiter(storage))
    return limiter


def _rate_item() -> _RatePerSecond:
    return _RatePerSecond(settings.PAPERBOY_SEND_RATE, namespace="rate")


# --- The day's cap ------------------------------------------------------------------------------


def utc_day(now: dt.datetime) -> dt.date:
    """The UTC date of `now`, which names the day's count."""
    return now.astimezone(dt.UTC).date()


def daily_cap(*, day: dt.date) -> int | None:
    """The day's cap: the warm-up's for that day, else PAPERBOY_SEND_DAILY_CAP; None for no cap.

    Days before the warm-up's start count as its first day: a new IP sends little until then.
    """
    warmup = warmup_parse(settings.PAPERBOY_SEND_WARMUP)
    if warmup is not None:
        start, caps = warmup
        index = max((day - start).days, 0)
        if index < len(caps):
            return caps[index]
    return settings.PAPERBOY_SEND_DAILY_CAP or None


def _day_key(day: dt.date) -> str:
    return f"day/{day.isoformat()}"


def daily_sent(*, day: dt.date) -> int:
    """Emails handed to the provider on this UTC day, by every worker."""
    return _limiter().storage.get(_day_key(day))


def daily_cap_reached(*, now: dt.datetime) -> bool:
    """Whether today's cap (UTC) is used up; False when the store cannot tell (the take will)."""
    cap = daily_cap(day=utc_day(now))
    if cap is None:
        return False
    try:
        return daily_sent(day=utc_day(now)) >= cap
    except StorageError:
        return False


def _day_take(count: int, day: dt.date) -> int:
    """Take up to `count` of the day's tokens at once; how many were left to take."""
    cap = daily_cap(day=day)
    if cap is None:
        return count
    storage, key = _limiter().storage, _day_key(day)
    total = storage.incr(key, _DAY_KEY_SECONDS, amount=count)
    # Over the cap: give back what went over. Concurrent takers each give back their own part,
    # so together they are granted exactly what was left.
    over = min(max(total - cap, 0), count)
    if over:
        storage.incr(key, _DAY_KEY_SECONDS, amount=-over)
    return count - over


def send_tokens_return(*, count: int, now: dt.datetime) -> None:
    """Give back the day's tokens of emails the provider did not take (its trouble, a retry)."""
    if count <= 0 or daily_cap(day=utc_day(now)) is None:
        return
    try:
        _limiter().storage.incr(_day_key(utc_day(now)), _DAY_KEY_SECONDS, amount=-count)
    except StorageError:
        logger.warning("send limits: day's tokens not given back", extra={"count": count})


# --- Taking the tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class SendGrant:
    """What the limits let a batch hand the provider now: the first `count` of its emails."""

    count: int
    capped: bool = False  # the day's cap left fewer: the rest wait for the next UTC day
    # The rate's turn was further than the batch may wait (or the store could not be reached):
    # nothing may go now; seconds until it is worth another try.
    retry_after: float | None = None


def batch_size_fit(size: int) -> int:
    """A batch's size within the rate: a second's window can never take more than the rate."""
    rate = settings.PAPERBOY_SEND_RATE
    return min(size, rate) if rate else size


def claim_wait_deadline() -> float:
    """The time.monotonic() past which a batch that has just claimed stops waiting for its turn."""
    return time.monotonic() + settings.PAPERBOY_CLAIM_TIMEOUT_MINUTES * 60 * CLAIM_WAIT_SHARE


def send_tokens_take(*, count: int, now: dt.datetime, wait_until: float) -> SendGrant:
    """Take the day's and the rate's tokens for up to `count` emails, waiting for the rate's turn.

    At most the rate at once. Past `wait_until` (time.monotonic()) nothing is taken: the grant
    says when to try again.
    """
    rate = settings.PAPERBOY_SEND_RATE
    asked = min(count, rate) if rate else count
    if asked <= 0 or (not rate and daily_cap(day=utc_day(now)) is None):
        return SendGrant(asked)
    try:
        granted = _day_take(asked, utc_day(now))
        wait = _rate_wait(granted, wait_until) if granted and rate else None
    except StorageError as error:
        logger.warning("send limits unreachable", extra={"error": str(error)})
        return SendGrant(0, retry_after=STORAGE_RETRY_SECONDS)
    if wait is not None:
        send_tokens_return(count=granted, now=now)
        return SendGrant(0, retry_after=wait)
    return SendGrant(granted, capped=granted < asked)


def _rate_wait(count: int, wait_until: float) -> float | None:
    """Take `count` of the rate's tokens, sleeping until the window has room; None once taken.

    If the window will not have room before `wait_until`, the seconds until it might instead.
    """
    limiter, item = _limiter(), _rate_item()
    while not limiter.window.hit(item, "provider", cost=count):
        reset = limiter.window.get_window_stats(item, "provider").reset_time
        pause = max(reset - time.time(), _PAUSE_MIN_SECONDS)
        if time.monotonic() + pause > wait_until:
            return pause
        time.sleep(pause)
    return None


# --- What the admin shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class LimitsStatus:
    rate: int  # messages per second; 0: no rate
    cap: int | None  # today's cap (UTC); None: no cap
    sent_today: int | None  # None: no cap, or the store could not be reached
    warmup_day: tuple[int, int] | None = None  # (today's day of the warm-up, its days)


def send_limits_status(*, now: dt.datetime) -> LimitsStatus:
    """The rate, today's cap and what was sent against it, read from the limiter."""
    day = utc_day(now)
    cap = daily_cap(day=day)
    sent = None
    if cap is not None:
        try:
            sent = daily_sent(day=day)
        except StorageError:
            sent = None
    warmup_day = None
    if (warmup := warmup_parse(settings.PAPERBOY_SEND_WARMUP)) is not None:
        start, caps = warmup
        if (day - start).days < len(caps):
            warmup_day = (max((day - start).days, 0) + 1, len(caps))
    return LimitsStatus(settings.PAPERBOY_SEND_RATE, cap, sent, warmup_day)


def limiters_clear() -> None:
    """Forget this process's stores (tests: a new key prefix or REDIS_URL gets a new one anyway)."""
    _limiters.clear()
