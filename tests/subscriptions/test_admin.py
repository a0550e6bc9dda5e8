from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from subscriptions.admin import csv_cell
from subscriptions.models import Subscriber, SubscriptionStat, WebhookEvent
from tests.factories import SubscriberFactory
from tests.helpers import link_path

pytestmark = pytest.mark.django_db

SUBSCRIBERS = reverse("admin:subscriptions_subscriber_changelist")
STATS = reverse("admin:subscriptions_subscriptionstat_changelist")
Status = Subscriber.Status


def pending_subscriber(**fields) -> Subscriber:
    return SubscriberFactory.create(status=Status.PENDING, confirmed_at=None, **fields)


def listed_emails(response) -> set[str]:
    return {subscriber.email for subscriber in response.context["cl"].result_list}


def run_action(admin_client, action: str, *subscribers: Subscriber, follow: bool = True):
    data = {"action": action, ACTION_CHECKBOX_NAME: [subscriber.pk for subscriber in subscribers]}
    return admin_client.post(SUBSCRIBERS, data, follow=follow)


def change_url(subscriber: Subscriber) -> str:
    return reverse("admin:subscriptions_subscriber_change", args=[subscriber.pk])


@pytest.mark.parametrize(
    "url", [SUBSCRIBERS, STATS, reverse("admin:subscriptions_subscriber_change", args=[1])]
)
def test_it_sends_anonymous_visitors_to_the_login_page(client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_list_shows_each_subscribers_preferences_and_dates(admin_client) -> None:
    with time_machine.travel(dt.datetime(2025, 11, 20, 7, 5, tzinfo=dt.UTC), tick=False):
        SubscriberFactory.create(
            email="ada@example.org",
            frequency="weekdays",
            digest_size=7,
            delivery_hour=9,
            timezone="Europe/Paris",
        )

    response = admin_client.get(SUBSCRIBERS)
    html = response.content.decode()

    assert response.status_code == 200
    assert listed_emails(response) == {"ada@example.org"}
    row = html[html.index("ada@example.org") : html.index("</tr>", html.index("ada@example.org"))]
    for cell in (
        "Active",
        "Every weekday",
        ">7<",
        "09:00 Europe/Paris",
        "Nov. 20, 2025, 7:05 a.m.",
    ):
        assert cell in row
    for filter_title in ("By status", "By frequency", "By created at", "By time zone"):
        assert filter_title in html


def test_it_searches_by_email_and_filters_by_status_frequency_and_time_zone(admin_client) -> None:
    SubscriberFactory.create(email="ada@example.org", frequency="weekly", timezone="Europe/Paris")
    pending_subscriber(email="grace@navy.example", frequency="daily", timezone="America/New_York")
    SubscriberFactory.create(
        email="alan@example.org",
        status=Status.UNSUBSCRIBED,
        frequency="daily",
        timezone="Europe/Paris",
    )

    assert listed_emails(admin_client.get(SUBSCRIBERS, {"q": "NAVY"})) == {"grace@navy.example"}
    assert listed_emails(admin_client.get(SUBSCRIBERS, {"q": "example.org"})) == {
        "ada@example.org",
        "alan@example.org",
    }
    assert listed_emails(admin_client.get(SUBSCRIBERS, {"status__exact": "pending"})) == {
        "grace@navy.example"
    }
    assert listed_emails(admin_client.get(SUBSCRIBERS, {"frequency__exact": "daily"})) == {
        "grace@navy.example",
        "alan@example.org",
    }
    assert listed_emails(admin_client.get(SUBSCRIBERS, {"timezone": "Europe/Paris"})) == {
        "ada@example.org",
        "alan@example.org",
    }
    both = {"timezone": "Europe/Paris", "status__exact": "unsubscribed"}
    assert listed_emails(admin_client.get(SUBSCRIBERS, both)) == {"alan@example.org"}


def test_the_time_zone_filter_offers_only_the_zones_subscribers_have(admin_client) -> None:
    SubscriberFactory.create(timezone="Asia/Tokyo")
    SubscriberFactory.create(timezone="Asia/Tokyo")
    SubscriberFactory.create(timezone="America/Sao_Paulo")

    response = admin_client.get(SUBSCRIBERS)
    spec = next(spec for spec in response.context["cl"].filter_specs if spec.title == "time zone")

    assert [choice["display"] for choice in spec.choices(response.context["cl"])] == [
        "All",
        "America/Sao_Paulo",
        "Asia/Tokyo",
    ]


def test_it_filters_by_creation_date(admin_client) -> None:
    with time_machine.travel(dt.datetime(2025, 10, 2, 12, 0, tzinfo=dt.UTC), tick=False):
        SubscriberFactory.create(email="old@example.org")
    SubscriberFactory.create(email="new@example.org")
    # What the filter's "Past 7 days" link sends: aware midnights.
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    since, until = today - dt.timedelta(days=7), today + dt.timedelta(days=1)

    recent = admin_client.get(
        SUBSCRIBERS, {"created_at__gte": str(since), "created_at__lt": str(until)}
    )
    by_month = admin_client.get(
        SUBSCRIBERS, {"created_at__year": "2025", "created_at__month": "10"}
    )

    assert listed_emails(recent) == {"new@example.org"}
    assert listed_emails(by_month) == {"old@example.org"}


def test_it_counts_subscribers_by_status_above_the_list(admin_client) -> None:
    SubscriberFactory.create_batch(3)
    pending_subscriber()
    pending_subscriber()
    SubscriberFactory.create(status=Status.BOUNCED)

    response = admin_client.get(SUBSCRIBERS, {"status__exact": "bounced"})
    html = response.content.decode()

    counts = {value: count for value, _label, count in response.context["status_counts"]}
    # Counts are over everyone, whatever the list is filtered to; every status is shown, even at 0.
    assert counts == {
        "pending": 2,
        "active": 3,
        "paused": 0,
        "unsubscribed": 0,
        "bounced": 1,
        "complained": 0,
    }
    assert '<a href="?status__exact=active">Active</a>: <strong>3</strong>' in html
    assert '<a href="?status__exact=pending">Pending confirmation</a>: <strong>2</strong>' in html
    assert html.index("subscriber-status-counts") < html.index('id="result_list"')


def test_resend_mails_pending_subscribers_after_commit_and_skips_the_rest(
    admin_client, django_capture_on_commit_callbacks
) -> None:
    waiting = pending_subscriber(email="waiting@example.org")
    just_mailed = pending_subscriber(
        email="just-mailed@example.org", confirmation_sent_at=timezone.now()
    )
    active = SubscriberFactory.create(email="active@example.org")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = run_action(admin_client, "resend_confirmation", waiting, just_mailed, active)
    assert mail.outbox == []  # nothing leaves before the transaction commits
    for callback in callbacks:
        callback()

    assert (
        "Confirmation resent to 1 subscriber; skipped 1 not pending, "
        "1 already sent one within the hour." in (response.content.decode())
    )
    assert [message.to for message in mail.outbox] == [["waiting@example.org"]]
    assert mail.outbox[0].subject == "Confirm your Paperboy subscription"
    assert link_path(mail.outbox[0], "confirm").startswith("/confirm/")
    waiting.refresh_from_db()
    assert waiting.confirmation_sent_at is not None
    assert waiting.status == Status.PENDING


def test_resend_holds_the_once_an_hour_limit(
    admin_client, django_capture_on_commit_callbacks
) -> None:
    waiting = pending_subscriber(email="waiting@example.org")
    start = dt.datetime(2025, 11, 20, 8, 0, tzinfo=dt.UTC)

    with time_machine.travel(start, tick=False), django_capture_on_commit_callbacks(execute=True):
        run_action(admin_client, "resend_confirmation", waiting)
    with (
        time_machine.travel(start + dt.timedelta(minutes=59), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        again = run_action(admin_client, "resend_confirmation", waiting)
    assert "Confirmation resent to 0 subscribers; skipped 1 already sent one within the hour." in (
        again.content.decode()
    )
    assert len(mail.outbox) == 1

    with (
        time_machine.travel(start + dt.timedelta(minutes=61), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_action(admin_client, "resend_confirmation", waiting)
    assert len(mail.outbox) == 2


def test_unsubscribe_stops_live_subscriptions_through_the_service(admin_client) -> None:
    active = SubscriberFactory.create()
    paused = SubscriberFactory.create(status=Status.PAUSED)
    waiting = pending_subscriber()
    bounced = SubscriberFactory.create(status=Status.BOUNCED)

    response = run_action(admin_client, "unsubscribe", active, paused, waiting, bounced)

    assert (
        "Unsubscribed 3 subscribers; 1 subscriber already unsubscribed or suppressed."
        in response.content.decode()
    )
    for subscriber in (active, paused, waiting):
        subscriber.refresh_from_db()
        assert subscriber.status == Status.UNSUBSCRIBED
        assert subscriber.unsubscribed_at is not None
    bounced.refresh_from_db()
    assert bounced.status == Status.BOUNCED
    assert bounced.unsubscribed_at is None


def test_export_writes_the_selected_subscribers_as_csv(admin_client) -> None:
    created = dt.datetime(2025, 11, 20, 7, 5, tzinfo=dt.UTC)
    with time_machine.travel(created, tick=False):
        ada = SubscriberFactory.create(
            email="ada@example.org",
            frequency="weekdays",
            digest_size=7,
            delivery_hour=9,
            timezone="Europe/Paris",
            interests="private words",
        )
        grace = pending_subscriber(email="grace@example.org")
    SubscriberFactory.create(email="not-selected@example.org")

    response = run_action(admin_client, "export_csv", ada, grace, follow=False)
    body = response.content.decode()
    rows = list(csv.reader(io.StringIO(body)))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="subscribers-')
    assert rows == [
        [
            "email",
            "status",
            "frequency",
            "digest_size",
            "delivery_hour",
            "timezone",
            "created_at",
            "confirmed_at",
        ],
        [
            "ada@example.org",
            "active",
            "weekdays",
            "7",
            "9",
            "Europe/Paris",
            created.isoformat(),
            created.isoformat(),
        ],
        ["grace@example.org", "pending", "daily", "5", "8", "UTC", created.isoformat(), ""],
    ]
    assert "private words" not in body


def test_export_keeps_spreadsheets_from_running_addresses_as_formulas(admin_client) -> None:
    # Valid addresses: = + - are all allowed in a local part, so anyone can sign one up.
    dangerous = [
        SubscriberFactory.create(email=email)
        for email in ("=1+2@example.org", "+33@example.org", "-x@example.org")
    ]
    plain = SubscriberFactory.create(email="a=b@example.org")

    response = run_action(admin_client, "export_csv", *dangerous, plain, follow=False)
    emails = [row[0] for row in csv.reader(io.StringIO(response.content.decode()))][1:]

    assert emails == ["'=1+2@example.org", "'+33@example.org", "'-x@example.org", "a=b@example.org"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("Europe/Paris", "Europe/Paris"),
        (None, ""),
        (7, "7"),
        (-3, "'-3"),
    ],
)
def test_a_csv_cell_that_looks_like_a_formula_is_quoted(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


@pytest.mark.parametrize("count", [5, 100])
def test_the_list_takes_a_bounded_number_of_queries(
    admin_client, django_assert_max_num_queries, count: int
) -> None:
    zones = ["UTC", "Europe/Paris", "Asia/Tokyo", "America/New_York"]
    statuses = list(Status.values)
    for n in range(count):
        SubscriberFactory.create(timezone=zones[n % len(zones)], status=statuses[n % len(statuses)])

    with django_assert_max_num_queries(10):
        response = admin_client.get(SUBSCRIBERS)
    with django_assert_max_num_queries(10):
        admin_client.get(SUBSCRIBERS, {"q": "reader", "status__exact": "active", "timezone": "UTC"})

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == count


def test_the_query_count_does_not_grow_with_the_subscribers(admin_client) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            admin_client.get(SUBSCRIBERS)
        return len(captured)

    SubscriberFactory.create_batch(3)
    few = queries()
    SubscriberFactory.create_batch(60, timezone="Europe/Paris")

    assert queries() == few


def test_the_detail_page_shows_history_read_only_and_no_manage_link(admin_client) -> None:
    subscriber = SubscriberFactory.create(
        email="ada@example.org", confirmation_sent_at=timezone.now()
    )

    html = admin_client.get(change_url(subscriber)).content.decode()

    assert "ada@example.org" in html
    for field in (
        "email",
        "status",
        "created_at",
        "confirmed_at",
        "confirmation_sent_at",
        "updated_at",
    ):
        assert f'name="{field}"' not in html  # shown, not editable
    for field in ("interests", "frequency", "digest_size", "delivery_hour", "timezone"):
        assert f'name="{field}"' in html
    assert "/manage/" not in html
    assert "/unsubscribe/" not in html


def test_staff_can_edit_preferences_but_not_the_address_or_status(admin_client) -> None:
    subscriber = SubscriberFactory.create(email="ada@example.org")
    form = {
        "interests": "  diffusion\u200b \x07models ",
        "categories": ["cs.CV"],
        "frequency": "weekly",
        "digest_size": "10",
        "delivery_hour": "18",
        "timezone": "Asia/Tokyo",
        "email": "mallory@example.org",
        "status": "unsubscribed",
    }

    response = admin_client.post(change_url(subscriber), form)

    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert (subscriber.interests, subscriber.categories, subscriber.frequency) == (
        "diffusion models",
        ["cs.CV"],
        "weekly",
    )
    assert (subscriber.digest_size, subscriber.delivery_hour, subscriber.timezone) == (
        10,
        18,
        "Asia/Tokyo",
    )
    assert (subscriber.email, subscriber.status) == ("ada@example.org", Status.ACTIVE)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "Mars/Olympus_Mons"),
        ("digest_size", "21"),
        ("delivery_hour", "24"),
        ("categories", "cs.XX"),
    ],
)
def test_the_detail_page_rejects_preferences_a_reader_could_not_choose(
    admin_client, field: str, value: str
) -> None:
    subscriber = SubscriberFactory.create(timezone="UTC", digest_size=5, delivery_hour=8)
    form = {
        "frequency": "daily",
        "digest_size": "5",
        "delivery_hour": "8",
        "timezone": "UTC",
        field: value,
    }

    response = admin_client.post(change_url(subscriber), form)

    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    subscriber.refresh_from_db()
    assert (
        subscriber.timezone,
        subscriber.digest_size,
        subscriber.delivery_hour,
        subscriber.categories,
    ) == (
        "UTC",
        5,
        8,
        [],
    )


def test_subscribers_cannot_be_added_by_hand(admin_client) -> None:
    assert admin_client.get(reverse("admin:subscriptions_subscriber_add")).status_code == 403


def test_deletion_counts_are_listed_read_only(admin_client) -> None:
    stat = SubscriptionStat.objects.create(
        day=dt.date(2025, 11, 20), kind=SubscriptionStat.Kind.DELETED, count=4
    )
    change = reverse("admin:subscriptions_subscriptionstat_change", args=[stat.pk])

    response = admin_client.get(STATS)
    assert response.status_code == 200
    assert [(s.day, s.count) for s in response.context["cl"].result_list] == [
        (dt.date(2025, 11, 20), 4)
    ]
    assert admin_client.get(reverse("admin:subscriptions_subscriptionstat_add")).status_code == 403
    assert (
        admin_client.get(
            reverse("admin:subscriptions_subscriptionstat_delete", args=[stat.pk])
        ).status_code
        == 403
    )
    page = admin_client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    admin_client.post(change, {"day": "2025-11-21", "kind": "deleted", "count": "0"})
    stat.refresh_from_db()
    assert (stat.day, stat.count) == (dt.date(2025, 11, 20), 4)


def test_webhook_events_are_listed_read_only(admin_client) -> None:
    event = WebhookEvent.objects.create(
        esp_name="Postmark", event_id="evt-1", event_type="bounced", action="hard_bounce"
    )

    assert admin_client.get("/admin/subscriptions/webhookevent/").status_code == 200
    assert admin_client.get("/admin/subscriptions/webhookevent/add/").status_code == 403
    assert (
        admin_client.post(
            f"/admin/subscriptions/webhookevent/{event.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert WebhookEvent.objects.filter(pk=event.pk).exists()
