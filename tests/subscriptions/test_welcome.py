"""The welcome email: sent once a subscription is confirmed, with the way back to the manage page.

And when it says the first digest comes, checked against the digest's own hourly rounds.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client

from digest.ledger import deliveries_create_due
from digest.models import Delivery, Issue, IssueKind, IssueStatus
from subscriptions import services
from subscriptions.models import Seed, Subscriber
from subscriptions.schedule import day_label, first_digest_at
from tests.factories import SubscriberFactory
from tests.helpers import link_path

pytestmark = pytest.mark.django_db

# A Monday, 10:00 in Paris: after FORM's 09:00, so the day's digest comes with the next round.
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _html(email: mail.EmailMessage) -> str:
    assert isinstance(email, EmailMultiAlternatives)
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert isinstance(html, str)
    return html


def _confirmed_reader(client: Client, signup, run_on_commit) -> tuple[Subscriber, str]:
    """Sign FORM's reader up with two example papers, confirm twice; the confirm path."""
    signup()
    subscriber = Subscriber.objects.get()
    for arxiv_id in ("2401.00001", "2401.00002"):
        Seed.objects.create(
            subscriber=subscriber,
            arxiv_id=arxiv_id,
            title="A paper",
            origin=Seed.Origin.ID,
            status=Seed.Status.READY,
        )
    confirm_path = link_path(mail.outbox[0], "confirm")
    with run_on_commit():
        first = client.post(confirm_path)
    with run_on_commit():
        second = client.post(confirm_path)  # a second click, or the link opened in two tabs
    assert (first.status_code, second.status_code) == (200, 200)
    assert "A welcome email with that link" in first.content.decode()
    assert "A welcome email" not in second.content.decode()
    return subscriber, confirm_path


def test_it_welcomes_a_confirmed_reader_once_with_the_manage_link_their_choices_and_first_digest(
    client, signup, run_on_commit
) -> None:
    with time_machine.travel(START, tick=False):
        _confirmed_reader(client, signup, run_on_commit)
        confirmation, welcome = mail.outbox  # one welcome, for two clicks
        page = client.get(link_path(welcome, "manage"))

    assert welcome.to == ["ada@example.org"]
    assert welcome.subject == "Welcome to Paperboy: your first digest comes today"
    text, html = str(welcome.body), _html(welcome)
    first = (
        "Your first digest comes today at about 11:00 (Europe/Paris time): your 09:00 has passed "
        "today, so today's comes with the next hourly round."
    )
    assert first in text
    assert first.replace("today at about 11:00", "<strong>today at about 11:00</strong>") in html
    chosen = [
        ("Interests", "3D human pose estimation, efficient LLM inference"),
        (
            "arXiv categories",
            "cs.CL (Computation and Language), cs.CV (Computer Vision and Pattern Recognition)",
        ),
        ("How often", "Every weekday"),
        ("Papers per digest", "7"),
        ("Delivery", "09:00, Europe/Paris time"),
        ("Papers like these", "2 examples"),
    ]
    for label, value in chosen:
        assert f"- {label}: {value}\n" in text
        assert f'>{label}</td><td style="padding:2px 0;vertical-align:top">{value}</td>' in html
    manage_path = link_path(welcome, "manage")
    assert manage_path in html
    assert "Change my preferences" in html
    assert link_path(welcome, "unsubscribe") in welcome.extra_headers["List-Unsubscribe"]
    assert page.status_code == 200
    assert "Your preferences" in page.content.decode()


def test_a_reader_with_no_interests_categories_or_seeds_is_told_what_that_means(
    run_on_commit,
) -> None:
    reader = SubscriberFactory.create(
        interests="", categories=[], frequency="weekly", delivery_hour=7, timezone="UTC"
    )
    tuesday = START + dt.timedelta(days=1)
    with time_machine.travel(tuesday, tick=False), run_on_commit():
        assert services.subscriber_welcome_send(subscriber_id=reader.pk)

    [welcome] = mail.outbox
    text = str(welcome.body)
    assert "Your first digest comes on Monday 9 March at about 07:00 (UTC time)." in text
    assert "- Interests: none given (the day's most trending papers)\n" in text
    assert "- arXiv categories: all\n" in text
    assert "- How often: Weekly, on Monday\n" in text
    assert "Papers like these" not in text
    assert "Papers like these" not in _html(welcome)
    assert welcome.subject == "Welcome to Paperboy: your first digest comes on Monday 9 March"


def test_no_welcome_goes_to_a_reader_who_left_before_the_worker_got_to_it() -> None:
    reader = SubscriberFactory.create(status=Subscriber.Status.UNSUBSCRIBED)

    assert services.subscriber_welcome_send(subscriber_id=reader.pk) is False
    assert services.subscriber_welcome_send(subscriber_id=reader.pk + 1000) is False
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("now", "hour", "zone", "frequency", "expected"),
    [
        # Before their hour on one of their days: that day, at their hour.
        ("2026-03-02T06:30Z", 9, "Europe/Paris", "daily", "2026-03-02T09:00+01:00"),
        # After it: the day's issue at the next hourly round.
        ("2026-03-02T09:00Z", 9, "Europe/Paris", "weekdays", "2026-03-02T11:00+01:00"),
        # Even late in the evening: the day's issue is open until its day is over.
        ("2026-03-06T20:00Z", 9, "Europe/Paris", "weekdays", "2026-03-06T22:00+01:00"),
        # Just past midnight on Saturday, weekdays only: Monday.
        ("2026-03-06T23:30Z", 9, "Europe/Paris", "weekdays", "2026-03-09T09:00+01:00"),
        # Just past midnight on Sunday, every day: that Sunday.
        ("2026-03-07T23:30Z", 9, "Europe/Paris", "daily", "2026-03-08T09:00+01:00"),
        # Weekly, on a Tuesday: next Monday.
        ("2026-03-03T12:00Z", 8, "UTC", "weekly", "2026-03-09T08:00+00:00"),
        # Tokyo's 08:00 comes before the day's issue is built (00:00 UTC, 09:00 there).
        ("2026-03-02T20:00Z", 8, "Asia/Tokyo", "daily", "2026-03-03T09:00+09:00"),
        # New York springs forward on 8 March: 07:00 is EDT that day.
        ("2026-03-08T05:30Z", 7, "America/New_York", "daily", "2026-03-08T07:00-04:00"),
    ],
)
def test_the_first_digest_is_the_first_round_of_one_of_the_readers_days_at_their_hour(
    now: str, hour: int, zone: str, frequency: str, expected: str
) -> None:
    first = first_digest_at(
        now=dt.datetime.fromisoformat(now), delivery_hour=hour, zone=zone, frequency=frequency
    )

    assert first == dt.datetime.fromisoformat(expected)
    assert first.tzinfo == zoneinfo.ZoneInfo(zone)


def test_day_labels_read_as_the_reader_would_say_them() -> None:
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    now = dt.datetime(2026, 3, 2, 22, 30, tzinfo=dt.UTC)  # 23:30 in Paris, still Monday
    at = dt.datetime(2026, 3, 3, 0, 30, tzinfo=paris)

    assert day_label(moment=at, now=now) == "tomorrow"
    assert day_label(moment=at.replace(hour=23, day=2), now=now) == "today"
    assert day_label(moment=at.replace(day=5), now=now) == "on Thursday 5 March"


def _first_round_due(reader: Subscriber, *, start: dt.datetime) -> dt.datetime:
    """Run the digest's hourly rounds from `start`, issues built as they would be; the first due."""
    round_ = start.replace(minute=0) + dt.timedelta(hours=1)
    for _ in range(8 * 24):
        # The tick builds the UTC day's issues from its build hour (00:00), Mondays a weekly too;
        # the day before's is there already (readers west of UTC are still in it).
        for day in (round_.date() - dt.timedelta(days=1), round_.date()):
            kinds = [IssueKind.DAILY] + ([IssueKind.WEEKLY] if day.weekday() == 0 else [])
            for kind in kinds:
                _issue_built(day, kind, round_)
        deliveries_create_due(now=round_)
        if Delivery.objects.filter(subscriber=reader).exists():
            return round_
        round_ += dt.timedelta(hours=1)
    raise AssertionError("never due")


def _issue_built(day: dt.date, kind: str, now: dt.datetime) -> None:
    Issue.objects.get_or_create(
        date=day,
        kind=kind,
        defaults={
            "status": IssueStatus.SCHEDULED,
            "window_start": now - dt.timedelta(days=1),
            "window_end": now,
        },
    )


@pytest.mark.parametrize(
    ("start", "hour", "zone", "frequency"),
    [
        ("2026-03-02T09:20Z", 9, "Europe/Paris", "weekdays"),
        ("2026-03-06T20:00Z", 9, "Europe/Paris", "weekdays"),
        ("2026-03-06T23:30Z", 9, "Europe/Paris", "weekdays"),
        ("2026-03-08T05:30Z", 7, "America/New_York", "daily"),
        ("2026-03-03T12:00Z", 8, "UTC", "weekly"),
        ("2026-03-02T20:00Z", 8, "Asia/Tokyo", "daily"),
        ("2026-03-01T23:30Z", 23, "America/Los_Angeles", "daily"),
    ],
)
def test_the_welcome_email_and_the_digest_agree_on_when_the_first_digest_comes(
    start: str, hour: int, zone: str, frequency: str
) -> None:
    now = dt.datetime.fromisoformat(start)
    reader = SubscriberFactory.create(delivery_hour=hour, timezone=zone, frequency=frequency)

    due = _first_round_due(reader, start=now)

    expected = first_digest_at(now=now, delivery_hour=hour, zone=zone, frequency=frequency)
    assert due == expected
