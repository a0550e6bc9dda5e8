"""The manage page's "Your feed": its addresses, a new address, and email or feed only."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from subscriptions.models import Subscriber
from subscriptions.tokens import Purpose, token_make
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def _url(name: str, subscriber: Subscriber) -> str:
    token = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
    )
    return reverse(f"subscriptions:{name}", kwargs={"token": token})


def _feed_urls(page: str) -> list[str]:
    return re.findall(r'<input id="feed-(?:atom|json)" type="url" readonly value="([^"]+)"', page)


def _row(subscriber: Subscriber) -> Mapping[str, Any]:
    return Subscriber.objects.filter(pk=subscriber.pk).values().get()


def test_every_reader_has_a_feed_address_from_the_start_and_the_page_shows_it(
    client: Client, settings: Any
) -> None:
    reader = SubscriberFactory.create()
    other = SubscriberFactory.create()
    key = reader.feed_key
    assert len(key) == 32
    assert other.feed_key != key
    before = _row(reader)

    page = client.get(_url("manage", reader)).content.decode()

    assert _row(reader) == before  # a GET writes nothing
    assert _feed_urls(page) == [
        f"{settings.SITE_URL}/digest/feed/{key}.atom",
        f"{settings.SITE_URL}/digest/feed/{key}.json",
    ]
    assert "Make a new feed address" in page
    # The private feed is announced on this page, and only here.
    assert (
        f'<link rel="alternate" type="application/atom+xml" title="Your papers (Atom)" '
        f'href="{settings.SITE_URL}/digest/feed/{key}.atom">'
    ) in page
    assert f'href="{settings.SITE_URL}/digest/feed/{key}.json">' in page


def test_later_views_keep_the_same_address(client: Client) -> None:
    reader = SubscriberFactory.create()
    first = _feed_urls(client.get(_url("manage", reader)).content.decode())

    assert _feed_urls(client.get(_url("manage", reader)).content.decode()) == first


def test_the_address_opens_the_feed(client: Client, settings: Any) -> None:
    reader = SubscriberFactory.create()
    atom, feed_json = _feed_urls(client.get(_url("manage", reader)).content.decode())

    assert client.get(atom.removeprefix(settings.SITE_URL)).status_code == 200
    assert client.get(feed_json.removeprefix(settings.SITE_URL)).status_code == 200


@pytest.mark.parametrize(
    "status", [Subscriber.Status.PENDING, Subscriber.Status.UNSUBSCRIBED, Subscriber.Status.BOUNCED]
)
def test_a_reader_who_is_not_active_gets_no_feed_address(client: Client, status: str) -> None:
    reader = SubscriberFactory.create(status=status)

    page = client.get(_url("manage", reader)).content.decode()

    assert "You have no private feed" in page
    assert _feed_urls(page) == []
    assert reader.feed_key not in page


def test_a_paused_reader_keeps_a_feed(client: Client) -> None:
    reader = SubscriberFactory.create(status=Subscriber.Status.PAUSED)

    assert len(_feed_urls(client.get(_url("manage", reader)).content.decode())) == 2


def test_a_new_address_kills_the_old_one(client: Client, settings: Any) -> None:
    reader = SubscriberFactory.create()
    old_atom, old_json = _feed_urls(client.get(_url("manage", reader)).content.decode())

    response = client.post(_url("manage-feed", reader), follow=True)

    page = response.content.decode()
    assert "Your feed has a new address: the old one no longer works." in html.unescape(page)
    new_atom, new_json = _feed_urls(page)
    assert new_atom != old_atom
    for old in (old_atom, old_json):
        assert client.get(old.removeprefix(settings.SITE_URL)).status_code == 404
    for new in (new_atom, new_json):
        assert client.get(new.removeprefix(settings.SITE_URL)).status_code == 200


def test_a_new_address_needs_a_post(client: Client) -> None:
    reader = SubscriberFactory.create(feed_key="k" * 32)

    assert client.get(_url("manage-feed", reader)).status_code == 405
    assert client.get(_url("manage-via", reader)).status_code == 405
    assert _row(reader)["feed_key"] == "k" * 32


def test_an_unsubscribed_reader_cannot_make_a_feed_address(client: Client) -> None:
    reader = SubscriberFactory.create(status=Subscriber.Status.UNSUBSCRIBED)

    response = client.post(_url("manage-feed", reader), follow=True)

    assert "no feed while it is not active" in response.content.decode()
    assert _row(reader)["feed_key"] == reader.feed_key


def test_a_forged_link_changes_no_feed(client: Client) -> None:
    reader = SubscriberFactory.create(feed_key="k" * 32)

    response = client.post("/manage/not-a-token/feed/")

    assert response.status_code == 400
    assert _row(reader)["feed_key"] == "k" * 32


def test_feed_only_and_back_to_email(client: Client) -> None:
    reader = SubscriberFactory.create()

    to_feed = client.post(_url("manage-via", reader), {"via": "feed"}, follow=True)

    assert _row(reader)["via"] == Subscriber.Via.FEED
    assert "no more digest emails" in to_feed.content.decode()
    assert re.search(r'name="via" value="feed"[^>]*checked', to_feed.content.decode())

    to_email = client.post(_url("manage-via", reader), {"via": "email"}, follow=True)

    assert _row(reader)["via"] == Subscriber.Via.EMAIL
    assert "your digests come by email again" in to_email.content.decode()


def test_choosing_what_is_already_chosen_says_so(client: Client) -> None:
    reader = SubscriberFactory.create()

    response = client.post(_url("manage-via", reader), {"via": "email"}, follow=True)

    assert "Nothing changed" in response.content.decode()


@pytest.mark.parametrize("value", ["channel", "", "sms", "feed\x00", "é" * 500])
def test_a_reader_can_choose_only_email_or_feed(client: Client, value: str) -> None:
    reader = SubscriberFactory.create()
    before = _row(reader)

    response = client.post(_url("manage-via", reader), {"via": value})

    assert response.status_code == 400
    assert "Choose email or feed only." in response.content.decode()
    assert _row(reader) == before


def test_the_choice_offers_no_channel(client: Client) -> None:
    page = client.get(_url("manage", SubscriberFactory.create())).content.decode()

    assert 'name="via" value="email"' in page
    assert 'name="via" value="feed"' in page
    assert 'value="channel"' not in page


def test_the_data_export_holds_the_feed_addresses(client: Client, settings: Any) -> None:
    reader = SubscriberFactory.create()
    unsubscribed = SubscriberFactory.create(status=Subscriber.Status.UNSUBSCRIBED)
    assert json.loads(client.get(_url("manage-export", unsubscribed)).content)["feed"] is None

    exported = json.loads(client.get(_url("manage-export", reader)).content)

    assert exported["feed"] == {
        "atom": f"{settings.SITE_URL}/digest/feed/{reader.feed_key}.atom",
        "json": f"{settings.SITE_URL}/digest/feed/{reader.feed_key}.json",
    }
    assert exported["via"] == "email"
