"""Signing up again: a link within minutes, at most one every 5 minutes and 5 a day, never silently.

The page says an email was sent, or that one was sent a moment ago and when to ask again, and
it reads the same for any address: a stranger learns only that someone asked lately.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client

from subscriptions import services
from subscriptions.models import Subscriber
from tests.factories import SubscriberFactory
from tests.helpers import link_path

pytestmark = pytest.mark.django_db

Status = Subscriber.Status
# A Monday, 10:00 in Paris (FORM's time zone).
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SENT_AT_10 = (
    "We sent an email to this address at 10:00 (Europe/Paris time), less than 5 minutes ago, "
    "so nothing was sent or changed: look for it in your inbox and spam folder. "
    "You can ask for another from 10:05."
)


def _page(response) -> str:
    return html.unescape(response.content.decode())


def test_a_confirmed_reader_who_signs_up_again_gets_their_manage_link_within_minutes(
    client, signup, run_on_commit
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        signup()
        with run_on_commit():
            client.post(link_path(mail.outbox[0], "confirm"))
        assert [email.subject.split(":")[0] for email in mail.outbox] == [
            "Confirm your Paperboy subscription",
            "Welcome to Paperboy",
        ]

        # The reader closed the tab and signs up again at once: told so, not left waiting.
        clock.shift(dt.timedelta(minutes=2))
        refused = signup()
        assert refused.status_code == 429
        assert SENT_AT_10 in _page(refused)
        assert len(mail.outbox) == 2

        clock.shift(dt.timedelta(minutes=3))
        sent = signup()
        assert sent.status_code == 303
        page = _page(Client().get(sent["Location"]))
        assert "if the address is already subscribed, to your preferences" in page
        assert "You can ask for another in 5 minutes, up to 5 a day." in page
        manage_link = mail.outbox[2]
        assert manage_link.subject == "Your Paperboy subscription"
        assert client.get(link_path(manage_link, "manage")).status_code == 200


@pytest.mark.parametrize(
    ("status", "subject"),
    [
        (Status.PENDING, "Confirm your Paperboy subscription"),
        (Status.ACTIVE, "Your Paperboy subscription"),
        (Status.PAUSED, "Your Paperboy subscription"),
        (Status.UNSUBSCRIBED, "Confirm your Paperboy subscription"),
        (Status.BOUNCED, "Confirm your Paperboy subscription"),
    ],
)
def test_each_state_gets_its_email_then_is_told_when_it_may_ask_again(
    signup, status: str, subject: str
) -> None:
    subscriber = SubscriberFactory.create(
        email="ada@example.org", status=status, interests="sparse attention"
    )
    with time_machine.travel(START, tick=False) as clock:
        assert signup(interests="first ask").status_code == 303
        stored = Subscriber.objects.values("status", "interests", "updated_at").get()

        clock.shift(dt.timedelta(minutes=4))
        refused = signup(interests="second ask")
        assert refused.status_code == 429
        assert SENT_AT_10 in _page(refused)
        assert 'value="ada@example.org"' in _page(refused)  # the form is kept, to send later
        assert Subscriber.objects.values("status", "interests", "updated_at").get() == stored

        clock.shift(dt.timedelta(minutes=1))
        assert signup().status_code == 303

    assert [email.subject for email in mail.outbox] == [subject, subject]
    assert all(email.to == [subscriber.email] for email in mail.outbox)


def test_the_refusal_reads_the_same_for_a_new_pending_active_or_unsubscribed_address(
    signup,
) -> None:
    SubscriberFactory.create(email="pending@example.org", status=Status.PENDING)
    SubscriberFactory.create(email="active@example.org")
    SubscriberFactory.create(email="gone@example.org", status=Status.UNSUBSCRIBED)
    addresses = ["new@example.org", "pending@example.org", "active@example.org", "gone@example.org"]
    with time_machine.travel(START, tick=False) as clock:
        for email in addresses:
            signup(email=email)
        clock.shift(dt.timedelta(minutes=1))
        pages = {
            re.sub(
                r"csrfmiddlewaretoken\" value=\"[^\"]+\"", "", _page(signup(email=email))
            ).replace(email, "ADDRESS")
            for email in addresses
        }

    [page] = pages
    assert SENT_AT_10 in page


def test_it_sends_at_most_five_a_day_and_says_from_when_the_next_can_be_asked(signup) -> None:
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):
            assert signup().status_code == 303
            clock.shift(dt.timedelta(hours=1))
        assert len(mail.outbox) == 5

        refused = signup()  # 14:00 UTC
        assert refused.status_code == 429
        told = (
            "This address has had 5 emails from us today, the most we send in a day, so nothing "
            "was sent or changed. The last one still works. You can ask again from 01:00 on "
            "Tuesday 3 March (Europe/Paris time)."
        )
        assert told in _page(refused)
        clock.shift(dt.timedelta(minutes=1))
        assert told in _page(signup())  # not "we sent one at 15:00": none went
        assert len(mail.outbox) == 5

        clock.move_to(dt.datetime(2026, 3, 3, 0, 0, tzinfo=dt.UTC))
        assert signup().status_code == 303
    assert len(mail.outbox) == 6


def test_too_many_attempts_in_an_hour_say_from_when_to_try_again(signup, settings) -> None:
    settings.PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS = 2
    with time_machine.travel(START + dt.timedelta(minutes=10), tick=False):
        signup()
        signup()
        refused = signup()

    assert refused.status_code == 429
    assert (
        "Too many sign-ups for this address in the last hour. You can try again from 11:00 "
        "(Europe/Paris time)." in _page(refused)
    )


def test_a_sign_up_the_broker_delivers_twice_in_a_row_mails_once(run_on_commit) -> None:
    preferences = services.Preferences(interests="sparse attention")
    with time_machine.travel(START, tick=False), run_on_commit():
        services.subscriber_subscribe(email="ada@example.org", preferences=preferences)
        services.subscriber_subscribe(email="ada@example.org", preferences=preferences)

    assert len(mail.outbox) == 1
