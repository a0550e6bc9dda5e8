"""Abuse: rate limits per IP and per address on the shared cache, and a honeypot field."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid

import pytest
import redis
import time_machine
from django.core import mail
from django.test import RequestFactory

from subscriptions.models import Subscriber
from subscriptions.ratelimit import client_ip, rate_limit_hit
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
    # The counter expires a little after its window, whoever created it (one round trip per hit):
    # read from the cache's server itself, not through the cache.
    server = redis.Redis.from_url(os.environ["REDIS_URL"])
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    (redis_key,) = server.keys(f"*paperboy:ratelimit:test:{digest}:*")
    assert 3600 < server.ttl(redis_key) <= 3660
