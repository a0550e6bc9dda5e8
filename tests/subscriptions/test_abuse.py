"""Abuse: rate limits per IP and per address on the shared cache, and a honeypot field."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import time_machine
from django.core import mail
from django.test import RequestFactory
from django.utils import timezone

from subscriptions.models import Subscriber
from subscriptions.ratelimit import (
    SIGNUP_MAIL_INTERVAL,
    SignupCheck,
    SignupMailClaim,
    client_ip,
    rate_limit_hit,
    signup_check,
)
from tests.helpers import FORM

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_it_limits_sign_ups_per_ip_with_a_clear_message_then_lets_them_in_an_hour_later(
    client, settings
) -> None:
    settings.PAPERBOY_SIGNUP_LIMIT_PER_IP = 3
    with time_machine.travel(START, tick=False) as clock:
        answers = [
            client.post("/subscribe/", {**FORM, "email": f"r{n}@example.org"}).status_code
            for n in range(4)
        ]

        assert answers == [303, 303, 303, 429]
        refused = client.post("/subscribe/", {**FORM, "email": "late@example.org"})
        assert "Too many sign-ups from your network in the last hour." in refused.content.decode()
        assert 'value="late@example.org"' in refused.content.decode()  # the reader's input is kept
        assert not Subscriber.objects.filter(email="late@example.org").exists()

        clock.shift(dt.timedelta(hours=1))
        assert client.post("/subscribe/", {**FORM, "email": "late@example.org"}).status_code == 303
    assert Subscriber.objects.count() == 4


def test_it_limits_sign_ups_per_address_whatever_the_ip_and_the_case(client, settings) -> None:
    settings.PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS = 2
    answers = []
    # Five minutes apart, as sign-up emails to one address are (test_signup_again.py).
    with time_machine.travel(START, tick=False) as clock:
        for n, email in enumerate(["ada@example.org", "ADA@example.org", "ada@EXAMPLE.org"]):
            response = client.post(
                "/subscribe/", {**FORM, "email": email}, REMOTE_ADDR=f"10.0.0.{n}"
            )
            answers.append(response.status_code)
            clock.shift(dt.timedelta(minutes=5))

    assert answers == [303, 303, 429]
    assert "Too many sign-ups for this address in the last hour." in response.content.decode()
    assert client.post("/subscribe/", {**FORM, "email": "bob@example.org"}).status_code == 303


def test_a_filled_in_honeypot_looks_like_success_but_stores_and_sends_nothing(
    client, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        bot = client.post("/subscribe/", {**FORM, "website": "http://spam.example"})
        human = client.post("/subscribe/", {**FORM, "email": "human@example.org"})

    assert (bot.status_code, bot["Location"]) == (human.status_code, human["Location"])
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["human@example.org"]
    assert [email.to for email in mail.outbox] == [["human@example.org"]]


def test_the_honeypot_is_hidden_from_people_and_assistive_technology(client) -> None:
    html = client.get("/subscribe/").content.decode()

    assert '<div class="honeypot" aria-hidden="true">' in html
    assert 'name="website" id="id_website" tabindex="-1" autocomplete="off"' in html


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.1.1.1", "10.0.0.9"),  # no proxy trusted: the header is the client's word, ignored
        (1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),  # the client forged the first entry
        (2, "6.6.6.6, 203.0.113.5, 172.16.0.2", "203.0.113.5"),
        (
            2,
            "203.0.113.5",
            "10.0.0.9",
        ),  # fewer hops than proxies: not through them, use the connection
    ],
)
def test_the_client_ip_trusts_only_the_configured_proxies(
    settings, proxies, forwarded, expected
) -> None:
    settings.PAPERBOY_TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


@pytest.mark.redis
def test_the_limit_is_shared_through_redis(settings) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
    key = f"203.0.113.5-{uuid.uuid4()}"  # never seen before, so nothing needs flushing

    hits = [rate_limit_hit(scope="test", key=key, limit=2) for _ in range(3)]

    assert hits == [False, False, True]
    # The counter expires a little after its window, whoever created it:
    # read from the cache's server itself, not through the cache.
    server = redis.Redis.from_url(os.environ["REDIS_URL"])
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    (redis_key,) = server.keys(f"*paperboy:ratelimit:test:{digest}:*")
    assert 3600 < server.ttl(redis_key) <= 3660


# --- The sign-up's limits on Redis: one script, the same answers as on any other cache ---------


@pytest.fixture
def redis_cache(settings) -> Iterator[redis.Redis]:
    """The site's Redis cache under a key prefix of this test's own; its keys go at the end."""
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.SharedClientRedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": prefix,
        }
    }
    server = redis.Redis.from_url(os.environ["REDIS_URL"])
    yield server
    for key in server.scan_iter(f"{prefix}:*"):
        server.delete(key)
    server.close()


@pytest.fixture(params=["locmem", pytest.param("redis", marks=pytest.mark.redis)])
def five_minutes_later(request) -> Callable[[Any], None]:
    """Sign-up limits on either cache, and a way to let the 5 minutes between two emails pass.

    Redis counts its expiries in real time, which the test's clock does not move: there the
    last email's time is deleted, as its expiry would.
    """
    server = request.getfixturevalue("redis_cache") if request.param == "redis" else None
    prefix = request.getfixturevalue("settings").CACHES["default"].get("KEY_PREFIX")

    def later(clock: Any) -> None:  # time_machine's traveller
        clock.shift(SIGNUP_MAIL_INTERVAL)
        if server is not None:
            for key in server.scan_iter(f"{prefix}:*:paperboy:signup-mail-at:*"):
                server.delete(key)

    return later


def _refusals(checks: list[SignupCheck]) -> list[str | None]:
    return [check.refused for check in checks]


def test_a_sign_up_meets_the_network_then_the_address_then_the_email_limit(
    settings, five_minutes_later
) -> None:
    settings.PAPERBOY_SIGNUP_LIMIT_PER_IP = 3
    settings.PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS = 2
    with time_machine.travel(START, tick=False):
        checks = [
            signup_check(ip="10.0.0.1", email="ada@example.org", now=START),
            signup_check(ip="10.0.0.1", email="ada@example.org", now=START),  # emailed just now
            signup_check(ip="10.0.0.1", email=None, now=START),  # an invalid form counts too
            signup_check(ip="10.0.0.1", email="bob@example.org", now=START),  # 4th from the IP
            signup_check(ip="10.0.0.2", email="ada@example.org", now=START),  # 3rd for ada
            # The attempt the network's limit refused did not count for bob's address.
            signup_check(ip="10.0.0.2", email="bob@example.org", now=START),
        ]

    assert _refusals(checks) == [None, "mail", None, "ip", "address", None]
    assert checks[1].mail == SignupMailClaim(
        False, sent_at=START, retry_at=START + SIGNUP_MAIL_INTERVAL
    )


def test_a_sign_up_email_goes_at_most_five_times_a_utc_day(settings, five_minutes_later) -> None:
    settings.PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS = 100
    checks = []
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(6):
            five_minutes_later(clock)
            checks.append(signup_check(ip="10.0.0.1", email="ada@example.org", now=timezone.now()))
        # At once: the refused ask sent nothing, so it must not be told an email just went.
        checks.append(signup_check(ip="10.0.0.1", email="ada@example.org", now=timezone.now()))

    assert _refusals(checks) == [None] * 5 + ["mail", "mail"]
    tomorrow = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    assert checks[5].mail == checks[6].mail == SignupMailClaim(False, retry_at=tomorrow)


@pytest.mark.redis
def test_on_redis_a_sign_up_check_is_one_round_trip_with_keys_that_expire(
    redis_cache, settings, monkeypatch
) -> None:
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    signup_check(ip="10.0.0.1", email="warm@example.org", now=START)  # the script is loaded
    sent = []
    execute = redis.Redis.execute_command

    def spy(self, *args, **options):
        sent.append(args[0])
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", spy)
    check = signup_check(ip="10.0.0.9", email="ada@example.org", now=START)
    monkeypatch.undo()

    assert (check.refused, sent) == (None, ["EVALSHA"])
    ttls: dict[str, list[int]] = {}
    for key in redis_cache.scan_iter(f"{prefix}:*"):
        kind = key.decode().split(":")[-3 if b":ratelimit:" in key else -2]
        ttls.setdefault(kind, []).append(redis_cache.ttl(key))
    assert sorted(ttls) == ["signup-address", "signup-ip", "signup-mail-at", "signup-mail-day"]
    # Each key outlives its window a little, whoever made it: two addresses, two networks.
    assert all(3600 < ttl <= 3660 for ttl in ttls["signup-ip"] + ttls["signup-address"])
    assert all(290 < ttl <= 300 for ttl in ttls["signup-mail-at"])
    assert all(86400 < ttl <= 86460 for ttl in ttls["signup-mail-day"])
    assert [len(ttls[kind]) for kind in sorted(ttls)] == [2, 2, 2, 2]


@pytest.mark.redis
def test_on_redis_sign_ups_of_one_address_at_the_same_instant_get_one_email(
    redis_cache, settings
) -> None:
    settings.PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS = 100
    start = threading.Barrier(12)
    checks: list[SignupCheck] = []

    def sign_up() -> None:
        start.wait()
        checks.append(signup_check(ip="10.0.0.1", email="ada@example.org", now=START))

    threads = [threading.Thread(target=sign_up) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    refusals = _refusals(checks)
    assert (refusals.count(None), refusals.count("mail")) == (1, 11)


@pytest.mark.redis
def test_on_redis_the_sign_up_page_says_when_the_last_email_went(
    client, redis_cache, django_capture_on_commit_callbacks
) -> None:
    with time_machine.travel(START, tick=False), django_capture_on_commit_callbacks(execute=True):
        first = client.post("/subscribe/", {**FORM, "email": "ada@example.org"})
        again = client.post("/subscribe/", {**FORM, "email": "ADA@example.org"})

    assert (first.status_code, again.status_code) == (303, 429)
    assert "We sent an email to this address at 10:00 (Europe/Paris time)" in again.content.decode()
    assert [email.to for email in mail.outbox] == [["ada@example.org"]]
