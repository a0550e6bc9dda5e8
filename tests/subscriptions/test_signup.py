"""Sign-up: no enumeration, a confirmation at most every 5 minutes, strict checks, clear errors."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from subscriptions.models import Subscriber
from tests.factories import SubscriberFactory
from tests.helpers import FORM, link_path

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _sign_up_as_a_stranger(
    email: str, django_capture_on_commit_callbacks
) -> tuple[int, str, str, int, int]:
    """What a stranger sees after signing this address up, and how much work the request did."""
    client = Client()
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=False) as queued,
    ):
        response = client.post("/subscribe/", {**FORM, "email": email})
    page = client.get(response["Location"])
    return (
        response.status_code,
        response["Location"],
        page.content.decode(),
        len(queued),
        len(queries),
    )


def test_the_answer_is_the_same_whether_the_address_is_new_pending_active_or_unsubscribed(
    django_capture_on_commit_callbacks,
) -> None:
    SubscriberFactory.create(
        email="pending@example.org", status=Subscriber.Status.PENDING, confirmed_at=None
    )
    SubscriberFactory.create(email="active@example.org")
    SubscriberFactory.create(email="gone@example.org", status=Subscriber.Status.UNSUBSCRIBED)

    answers = [
        _sign_up_as_a_stranger(email, django_capture_on_commit_callbacks)
        for email in (
            "new@example.org",
            "pending@example.org",
            "Active@EXAMPLE.org",
            "gone@example.org",
        )
    ]

    assert {answer[:3] for answer in answers} == {answers[0][:3]}
    assert answers[0][0] == 303
    assert "Check your inbox" in answers[0][2]
    # Each queues exactly one email for after the response (never sent inside the request) ...
    assert [answer[3] for answer in answers] == [1, 1, 1, 1]
    assert mail.outbox == []
    # ... and does about the same database work.
    assert max(answer[4] for answer in answers) - min(answer[4] for answer in answers) <= 2


def test_an_active_subscription_is_not_changed_by_a_sign_up_but_its_owner_gets_the_manage_link(
    signup,
) -> None:
    subscriber = SubscriberFactory.create(
        email="ada@example.org", interests="sparse attention", digest_size=10
    )

    signup(email="ADA@example.org", interests="crypto spam", digest_size="3")

    subscriber.refresh_from_db()
    assert (subscriber.status, subscriber.interests, subscriber.digest_size) == (
        "active",
        "sparse attention",
        10,
    )
    assert Subscriber.objects.count() == 1
    [email] = mail.outbox
    assert isinstance(email, EmailMultiAlternatives)
    assert email.to == ["ada@example.org"]
    assert email.subject == "Your Paperboy subscription"
    html = email.alternatives[0][0]
    assert isinstance(html, str)
    assert link_path(email, "manage") in html
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_it_resends_the_confirmation_at_most_once_every_five_minutes(signup) -> None:
    with time_machine.travel(START, tick=False) as clock:
        signup()
        clock.shift(dt.timedelta(minutes=4, seconds=59))
        assert signup().status_code == 429  # said on the page: test_signup_again.py
        assert len(mail.outbox) == 1

        clock.shift(dt.timedelta(seconds=1))
        signup()
        assert len(mail.outbox) == 2
        assert Subscriber.objects.get().confirmation_sent_at == START + dt.timedelta(minutes=5)


def test_the_address_is_unique_whatever_its_case_and_its_domain_is_stored_lower_case(
    signup,
) -> None:
    signup(email="Ada.Lovelace@Example.ORG")
    signup(email="ada.lovelace@example.org")

    assert list(Subscriber.objects.values_list("email", flat=True)) == ["Ada.Lovelace@example.org"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "", "Enter your email address."),
        ("email", "not-an-address", "Enter a complete email address."),
        ("email", "root@localhost", "Enter a complete email address."),
        (
            "email",
            "ada@example.org\r\nBcc: victim@example.org",
            "An email address fits on one line.",
        ),
        ("email", "ada@example.org\n", "An email address fits on one line."),
        ("email", "ada@[192.0.2.1]", "Enter a complete email address."),
        ("email", "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "example.org", "at most 254 characters"),
        ("interests", "x" * 501, "to 500 characters or fewer: this has 501."),
        ("categories", ["cs.CV", "astro-ph"], "Pick arXiv categories from the list."),
        ("frequency", "hourly", "Pick how often you want the digest."),
        ("digest_size", "2", "at least 3 papers"),
        ("digest_size", "21", "at most 20 papers"),
        ("digest_size", "five", "Enter a number of papers from 3 to 20."),
        ("delivery_hour", "24", "Pick an hour of the day."),
        ("timezone", "Mars/Olympus_Mons", "Pick a time zone from the list."),
    ],
)
def test_it_rejects_bad_input_with_a_clear_message_and_stores_nothing(
    client, field, value, message
) -> None:
    response = client.post("/subscribe/", {**FORM, field: value})

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "Please correct the field marked below." in html
    assert not Subscriber.objects.exists()
    assert mail.outbox == []


def test_a_sign_up_without_the_csrf_token_is_refused() -> None:
    response = Client(enforce_csrf_checks=True).post("/subscribe/", FORM)

    assert response.status_code == 403
    assert not Subscriber.objects.exists()


def test_the_confirmation_goes_out_through_an_anymail_backend_with_its_headers(
    settings, signup
) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"

    signup(email="ada@example.org")

    [email] = mail.outbox
    assert isinstance(email, EmailMultiAlternatives)
    # Anymail's backend sets anymail_status on the instance as it sends: no type declares it.
    assert vars(email)["anymail_status"].status == {"sent"}
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.alternatives[0][1] == "text/html"


def test_list_unsubscribe_offers_a_mailto_where_one_is_configured(settings, signup) -> None:
    settings.PAPERBOY_UNSUBSCRIBE_MAILTO = "unsubscribe@example.org"

    signup(email="ada@example.org")

    [email] = mail.outbox
    https, mailto = email.extra_headers["List-Unsubscribe"].split(", ")
    assert https == f"<http://127.0.0.1:8000{link_path(email, 'unsubscribe')}>"
    assert mailto == "<mailto:unsubscribe@example.org?subject=unsubscribe>"
