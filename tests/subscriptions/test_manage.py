"""The manage page: preferences, pause and resume, new address, my data, delete me, unsubscribe."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.urls import reverse

from subscriptions.models import Subscriber, SubscriptionStat
from subscriptions.selectors import subscriber_list_deliverable
from subscriptions.tokens import Purpose, token_make
from tests.factories import SubscriberFactory
from tests.helpers import link_path, page_link

pytestmark = pytest.mark.django_db


def _link_url(name: str, subscriber: Subscriber, purpose: Purpose = Purpose.MANAGE) -> str:
    token = token_make(subscriber_id=subscriber.pk, address=subscriber.email, purpose=purpose)
    return reverse(f"subscriptions:{name}", kwargs={"token": token})


def _stored_row(subscriber: Subscriber) -> Mapping[str, Any]:
    # The manage page's first view makes the reader's private feed key, a secret only that page
    # shows (tests/subscriptions/test_manage_feed.py): everything else stays as it was.
    fields = [f.attname for f in Subscriber._meta.concrete_fields if f.name != "feed_key"]
    return Subscriber.objects.filter(pk=subscriber.pk).values(*fields).get()


def test_get_requests_never_change_anything(client) -> None:
    subscriber = SubscriberFactory.create(pending_email="new@example.org")
    before = _stored_row(subscriber)

    for url in (
        _link_url("manage", subscriber),
        _link_url("manage-export", subscriber),
        _link_url("manage-delete", subscriber),
        _link_url("unsubscribe", subscriber, Purpose.UNSUBSCRIBE),
        _link_url("confirm", subscriber, Purpose.CONFIRM),
        reverse(
            "subscriptions:change-email",
            kwargs={
                "token": token_make(
                    subscriber_id=subscriber.pk,
                    address="new@example.org",
                    purpose=Purpose.CHANGE_EMAIL,
                )
            },
        ),
    ):
        assert client.get(url).status_code == 200, url
        assert client.head(url).status_code == 200, url

    assert _stored_row(subscriber) == before
    assert mail.outbox == []


def test_the_manage_page_shows_the_current_preferences_and_is_private(client) -> None:
    subscriber = SubscriberFactory.create(
        interests="diffusion <b>models</b>", categories=["cs.LG"], delivery_hour=7
    )

    response = client.get(_link_url("manage", subscriber))

    html = response.content.decode()
    assert "diffusion &lt;b&gt;models&lt;/b&gt;</textarea>" in html
    assert 'value="cs.LG" id="id_categories_3" checked' in html
    assert '<option value="7" selected>07:00</option>' in html
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-cache" in response["Cache-Control"]


def test_bad_preferences_are_refused_with_a_message_and_change_nothing(client) -> None:
    subscriber = SubscriberFactory.create()
    before = _stored_row(subscriber)

    response = client.post(
        _link_url("manage", subscriber),
        {"frequency": "daily", "digest_size": "99", "delivery_hour": "8", "timezone": "UTC"},
    )

    assert response.status_code == 400
    assert "A digest has at most 20 papers." in response.content.decode()
    assert _stored_row(subscriber) == before


def test_preferences_need_the_csrf_token_like_any_normal_form() -> None:
    subscriber = SubscriberFactory.create()

    response = Client(enforce_csrf_checks=True).post(
        _link_url("manage", subscriber), {"digest_size": "3"}
    )

    assert response.status_code == 403


def test_a_reader_can_pause_and_resume_and_gets_nothing_while_paused(client) -> None:
    subscriber = SubscriberFactory.create()

    paused = client.post(_link_url("manage-pause", subscriber), {"action": "pause"}, follow=True)
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PAUSED
    assert "Your digests are paused." in paused.content.decode()
    assert not subscriber_list_deliverable().exists()

    client.post(_link_url("manage-pause", subscriber), {"action": "resume"})
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert list(subscriber_list_deliverable()) == [subscriber]


def test_a_pending_subscriber_cannot_skip_confirmation_by_resuming(client) -> None:
    subscriber = SubscriberFactory.create(status=Subscriber.Status.PENDING, confirmed_at=None)

    client.post(_link_url("manage-pause", subscriber), {"action": "resume"})
    client.post(_link_url("manage-pause", subscriber), {"action": "pause"})

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING
    assert not subscriber_list_deliverable().exists()


def test_a_new_address_takes_effect_only_once_confirmed_from_that_address(
    client, run_on_commit
) -> None:
    subscriber = SubscriberFactory.create(email="old@example.org")

    with run_on_commit():
        response = client.post(
            _link_url("manage-email", subscriber), {"new_email": "New@Example.ORG"}
        )

    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert (subscriber.email, subscriber.pending_email) == ("old@example.org", "New@example.org")
    [email] = mail.outbox
    assert isinstance(email, EmailMultiAlternatives)
    assert email.to == ["New@example.org"]
    assert email.subject == "Confirm your new address for Paperboy"
    assert "List-Unsubscribe" not in email.extra_headers
    change_path = link_path(email, "email")
    html = email.alternatives[0][0]
    assert isinstance(html, str)
    assert change_path in html

    assert client.get(change_path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.email == "old@example.org"

    done = client.post(change_path)
    assert done.status_code == 200
    assert "now go to <strong>New@example.org</strong>" in done.content.decode()
    subscriber.refresh_from_db()
    assert (subscriber.email, subscriber.pending_email) == ("New@example.org", "")
    # The new manage link works; the old address's links no longer do.
    assert client.get(page_link(done, "manage")).status_code == 200
    assert (
        client.get(
            _link_url("manage", Subscriber(pk=subscriber.pk, email="old@example.org"))
        ).status_code
        == 410
    )


def test_a_new_address_that_has_its_own_active_subscription_is_refused_on_confirmation(
    client, run_on_commit
) -> None:
    subscriber = SubscriberFactory.create(email="old@example.org")
    SubscriberFactory.create(email="taken@example.org")
    with run_on_commit():
        client.post(_link_url("manage-email", subscriber), {"new_email": "taken@example.org"})

    response = client.post(link_path(mail.outbox[0], "email"))

    assert response.status_code == 409
    assert "already has its own subscription" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.email == "old@example.org"


@pytest.mark.parametrize("bad", ["", "nope", "a@b.org\r\nBcc: x@y.org"])
def test_a_bad_new_address_is_refused_with_a_message(client, bad) -> None:
    subscriber = SubscriberFactory.create(email="old@example.org")

    response = client.post(_link_url("manage-email", subscriber), {"new_email": bad})

    assert response.status_code == 400
    assert "Please correct the address below." in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.pending_email == ""


def test_download_my_data_gives_everything_stored_as_json(client) -> None:
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        subscriber = SubscriberFactory.create(
            email="ada@example.org",
            interests="graph neural networks",
            categories=["cs.LG", "stat.ML"],
            frequency="weekly",
            digest_size=12,
            delivery_hour=6,
            timezone="America/New_York",
        )

    response = client.get(_link_url("manage-export", subscriber))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="paperboy-my-data.json"'
    assert json.loads(response.content) == {
        "email": "ada@example.org",
        "pending_email": None,
        "status": "active",
        "interests": "graph neural networks",
        "categories": ["cs.LG", "stat.ML"],
        "frequency": "weekly",
        "digest_size": 12,
        "delivery_hour": 6,
        "timezone": "America/New_York",
        "soft_bounces": 0,
        "via": "email",
        "created_at": "2026-03-02T09:00:00+00:00",
        "updated_at": "2026-03-02T09:00:00+00:00",
        "confirmed_at": "2026-03-02T09:00:00+00:00",
        "unsubscribed_at": None,
        "confirmation_sent_at": None,
        # What the reader taught their digest (tests/digest/test_signals_data.py fills them).
        "less_of": "",
        "seeds": [],
        "votes": [],
        "paper_clicks": [],
        "papers_sent": [],
        "feed": {
            "atom": f"http://127.0.0.1:8000/digest/feed/{subscriber.feed_key}.atom",
            "json": f"http://127.0.0.1:8000/digest/feed/{subscriber.feed_key}.json",
        },
    }


def test_delete_me_erases_the_address_and_keeps_only_an_anonymous_count(client) -> None:
    first, second = (
        SubscriberFactory.create(email="ada@example.org"),
        SubscriberFactory.create(email="bob@example.org"),
    )
    delete_url = _link_url("manage-delete", first)

    assert "Delete everything about you?" in client.get(delete_url).content.decode()
    response = client.post(delete_url)
    client.post(_link_url("manage-delete", second))

    assert response.status_code == 200
    assert "You're deleted" in response.content.decode()
    assert not Subscriber.objects.exists()
    [stat] = SubscriptionStat.objects.all()
    assert (stat.kind, stat.count) == ("deleted", 2)
    assert not any(
        "example.org" in str(value) for value in SubscriptionStat.objects.values().get().values()
    )
    assert client.post(delete_url).status_code == 410


def test_the_unsubscribe_button_on_the_manage_page_unsubscribes_and_the_reader_can_come_back(
    client, signup
) -> None:
    subscriber = SubscriberFactory.create(email="ada@example.org")
    page = client.get(_link_url("manage", subscriber)).content.decode()
    unsubscribe_path = page.split('<form method="post" action="')[-1].split('"')[0]
    assert unsubscribe_path.startswith("/unsubscribe/")

    assert "Stop all digests" in client.get(unsubscribe_path).content.decode()
    assert client.post(unsubscribe_path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED

    signup(email="ada@example.org")
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING
    assert mail.outbox[-1].subject == "Confirm your Paperboy subscription"


def test_an_old_confirmation_link_cannot_resubscribe_someone_who_left(client, signup) -> None:
    signup(email="ada@example.org")
    confirm_path = link_path(mail.outbox[0], "confirm")
    subscriber = Subscriber.objects.get()
    client.post(_link_url("unsubscribe", subscriber, Purpose.UNSUBSCRIBE))

    response = client.post(confirm_path)

    assert response.status_code == 410
    assert "This sign-up was cancelled" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
