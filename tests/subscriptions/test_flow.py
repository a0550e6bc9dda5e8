"""The whole reader journey in the test client: sign up, confirm, manage, unsubscribe, come back."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client

from subscriptions.models import Subscriber
from subscriptions.selectors import subscriber_list_deliverable
from tests.helpers import link_path, page_link

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_it_takes_a_reader_from_sign_up_to_one_click_unsubscribe_and_back(client, signup) -> None:
    with time_machine.travel(START, tick=False) as clock:
        response = signup()

        # Sign-up: a pending row with the form's preferences, and one confirmation email.
        assert response.status_code == 303
        assert response["Location"] == "/subscribe/check-your-inbox/"
        subscriber = Subscriber.objects.get()
        assert subscriber.status == Subscriber.Status.PENDING
        assert (subscriber.email, subscriber.frequency, subscriber.digest_size) == (
            "ada@example.org",
            "weekdays",
            7,
        )
        assert (subscriber.delivery_hour, subscriber.timezone) == (9, "Europe/Paris")
        assert subscriber.categories == [
            "cs.CL",
            "cs.CV",
        ]  # catalogue order, whatever the order sent
        assert subscriber.interests == "3D human pose estimation, efficient LLM inference"
        assert not subscriber_list_deliverable().exists()

        [email] = mail.outbox
        assert isinstance(email, EmailMultiAlternatives)
        assert email.to == ["ada@example.org"]
        assert email.subject == "Confirm your Paperboy subscription"
        html, mimetype = email.alternatives[0]
        assert isinstance(html, str)
        assert mimetype == "text/html"
        confirm_path = link_path(email, "confirm")
        unsubscribe_path = link_path(email, "unsubscribe")
        assert confirm_path in html
        assert unsubscribe_path in html
        assert (
            email.extra_headers["List-Unsubscribe"] == f"<http://127.0.0.1:8000{unsubscribe_path}>"
        )
        assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        # A mail scanner's GET of the link shows a button and changes nothing.
        page = client.get(confirm_path)
        assert page.status_code == 200
        assert "Confirm my subscription" in page.content.decode()
        subscriber.refresh_from_db()
        assert subscriber.status == Subscriber.Status.PENDING
        assert subscriber.confirmed_at is None

        # The reader's POST confirms.
        confirmed = client.post(confirm_path)
        assert confirmed.status_code == 200
        assert "You're subscribed" in confirmed.content.decode()
        subscriber.refresh_from_db()
        assert subscriber.status == Subscriber.Status.ACTIVE
        assert subscriber.confirmed_at == START
        assert list(subscriber_list_deliverable()) == [subscriber]

        # The manage page (linked from the confirmation page) changes preferences.
        manage_path = page_link(confirmed, "manage")
        page = client.get(manage_path)
        assert page.status_code == 200
        assert '<option value="Europe/Paris" selected>' in page.content.decode()
        preferences = {
            "interests": "  robot\u200b grasping\x07 \n",
            "categories": ["cs.RO"],
            "frequency": "weekly",
            "digest_size": "3",
            "delivery_hour": "18",
            "timezone": "Asia/Tokyo",
        }
        saved = client.post(manage_path, preferences)
        assert saved.status_code == 302
        assert saved["Location"] == manage_path
        subscriber.refresh_from_db()
        assert (subscriber.interests, subscriber.categories, subscriber.frequency) == (
            "robot grasping",
            ["cs.RO"],
            "weekly",
        )
        assert (subscriber.digest_size, subscriber.delivery_hour, subscriber.timezone) == (
            3,
            18,
            "Asia/Tokyo",
        )
        assert "Your preferences are saved." in client.get(manage_path).content.decode()

        # One-click unsubscribe as a mail provider sends it: no cookie, no CSRF token, answered
        # directly.
        provider = Client(enforce_csrf_checks=True)
        gone = provider.post(
            unsubscribe_path,
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert gone.status_code == 200
        assert "You're unsubscribed" in gone.content.decode()
        assert not gone.cookies
        subscriber.refresh_from_db()
        assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
        assert subscriber.unsubscribed_at == START
        assert not subscriber_list_deliverable().exists()

        # Coming back, later, goes through confirmation again, with the new sign-up's preferences.
        clock.shift(dt.timedelta(hours=2))
        mail.outbox.clear()
        signup(frequency="daily")
        subscriber.refresh_from_db()
        assert subscriber.status == Subscriber.Status.PENDING
        assert subscriber.frequency == "daily"
        [again] = mail.outbox
        assert again.subject == "Confirm your Paperboy subscription"
        assert client.post(link_path(again, "confirm")).status_code == 200
        subscriber.refresh_from_db()
        assert subscriber.status == Subscriber.Status.ACTIVE
        assert subscriber.unsubscribed_at is None


def test_the_home_page_box_prefills_the_full_form_with_a_valid_address_only(client) -> None:
    valid = client.get("/subscribe/", {"email": "grace@example.org"}).content.decode()
    hostile = client.get(
        "/subscribe/", {"email": "a@b.c<script>alert(1)</script>"}
    ).content.decode()

    assert 'name="email" value="grace@example.org"' in valid
    assert "alert(1)" not in hostile
    assert "a@b.c" not in hostile
    assert 'name="csrfmiddlewaretoken"' in valid


def test_the_sign_up_form_works_without_javascript_and_defaults_to_utc(client) -> None:
    html = client.get("/subscribe/").content.decode()

    assert '<form method="post" action="/subscribe/"' in html
    assert '<option value="UTC" selected>' in html
    assert 'name="frequency" value="daily"' in html
    assert 'name="digest_size" value="5"' in html
