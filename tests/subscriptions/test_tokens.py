"""Links from emails: tampered, expired, wrong-purpose and stale tokens get a clear page, no 500."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from subscriptions.models import Subscriber
from subscriptions.tokens import Purpose, TokenError, token_make, token_read
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
# Every page behind a token, and the methods it answers.
PAGES = {
    "confirm": ("get", "post"),
    "manage": ("get", "post"),
    "manage-pause": ("post",),
    "manage-email": ("post",),
    "manage-feed": ("post",),
    "manage-via": ("post",),
    "manage-export": ("get",),
    "manage-delete": ("get", "post"),
    "change-email": ("get", "post"),
    "unsubscribe": ("get", "post"),
}


def _page_url(name: str, token: str) -> str:
    return reverse(f"subscriptions:{name}", kwargs={"token": token})


def _token(subscriber: Subscriber, purpose: Purpose) -> str:
    return token_make(subscriber_id=subscriber.pk, address=subscriber.email, purpose=purpose)


def test_a_token_round_trips_for_its_own_purpose_only() -> None:
    token = token_make(subscriber_id=42, address="Ada@Example.org", purpose=Purpose.MANAGE)

    assert token_read(token=token, purpose=Purpose.MANAGE).subscriber_id == 42
    assert "ada" not in token.lower()  # the address itself never travels in a link
    for other in (Purpose.CONFIRM, Purpose.UNSUBSCRIBE, Purpose.CHANGE_EMAIL):
        with pytest.raises(TokenError) as error:
            token_read(token=token, purpose=other)
        assert not error.value.expired


@pytest.mark.parametrize("name", PAGES)
def test_a_tampered_token_gets_a_400_page_on_get_and_post(client, name) -> None:
    subscriber = SubscriberFactory.create(
        status=Subscriber.Status.PENDING, confirmed_at=None, pending_email="n@example.org"
    )
    token = _token(subscriber, Purpose.MANAGE)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    for method in PAGES[name]:
        response = getattr(client, method)(_page_url(name, tampered))
        assert response.status_code == 400
        assert "This link is not valid" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING


@pytest.mark.parametrize("junk", ["x", "a:b:c", "%00", "eyJzIjoxfQ:1abc:zz", "é" * 300])
def test_junk_in_place_of_a_token_is_a_400_not_a_500(client, junk) -> None:
    for name, methods in PAGES.items():
        for method in methods:
            assert getattr(client, method)(_page_url(name, junk)).status_code == 400


@pytest.mark.parametrize(
    ("purpose", "page", "wrong_page"),
    [
        (Purpose.MANAGE, "manage", "unsubscribe"),
        (Purpose.UNSUBSCRIBE, "unsubscribe", "confirm"),
        (Purpose.CONFIRM, "confirm", "manage"),
    ],
)
def test_a_token_made_for_another_purpose_is_refused(client, purpose, page, wrong_page) -> None:
    subscriber = SubscriberFactory.create(status=Subscriber.Status.PENDING, confirmed_at=None)
    token = _token(subscriber, purpose)

    assert client.get(_page_url(page, token)).status_code == 200
    response = client.post(_page_url(wrong_page, token))
    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING


@pytest.mark.parametrize(
    ("purpose", "page", "valid_for"),
    [
        (Purpose.CONFIRM, "confirm", dt.timedelta(days=7)),
        (Purpose.MANAGE, "manage", dt.timedelta(days=90)),
        (Purpose.UNSUBSCRIBE, "unsubscribe", dt.timedelta(days=180)),
    ],
)
def test_a_link_works_until_it_expires_then_gets_a_410_page(
    client, purpose, page, valid_for
) -> None:
    subscriber = SubscriberFactory.create(status=Subscriber.Status.PENDING, confirmed_at=None)
    with time_machine.travel(START, tick=False) as clock:
        token = _token(subscriber, purpose)
        clock.shift(valid_for - dt.timedelta(minutes=1))
        assert client.get(_page_url(page, token)).status_code == 200

        clock.shift(dt.timedelta(minutes=2))
        response = client.post(_page_url(page, token))

    assert response.status_code == 410
    assert "This link has expired." in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING


def test_unsubscribe_and_manage_links_stay_valid_for_at_least_60_days(client) -> None:
    subscriber = SubscriberFactory.create()
    with time_machine.travel(START, tick=False) as clock:
        manage, unsubscribe = (
            _token(subscriber, Purpose.MANAGE),
            _token(subscriber, Purpose.UNSUBSCRIBE),
        )
        clock.shift(dt.timedelta(days=60))
        assert client.get(_page_url("manage", manage)).status_code == 200
        assert client.post(_page_url("unsubscribe", unsubscribe)).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_links_sent_to_an_old_address_stop_working_once_the_address_changes(client) -> None:
    subscriber = SubscriberFactory.create(email="old@example.org")
    token = _token(subscriber, Purpose.UNSUBSCRIBE)
    Subscriber.objects.filter(pk=subscriber.pk).update(email="new@example.org")

    response = client.post(_page_url("unsubscribe", token))

    assert response.status_code == 410
    assert "sent to another address" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_links_of_a_deleted_subscriber_say_there_is_nothing_behind_them(client) -> None:
    subscriber = SubscriberFactory.create()
    token = _token(subscriber, Purpose.MANAGE)
    subscriber.delete()

    response = client.get(_page_url("manage", token))

    assert response.status_code == 410
    assert "no subscription behind it" in response.content.decode()


def test_links_survive_a_secret_key_rotation_while_the_old_key_is_a_fallback(
    client, settings
) -> None:
    subscriber = SubscriberFactory.create()
    token = _token(subscriber, Purpose.MANAGE)
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key-" + "n" * 50, [old_key]
    assert client.get(_page_url("manage", token)).status_code == 200

    settings.SECRET_KEY_FALLBACKS = []
    assert client.get(_page_url("manage", token)).status_code == 400
