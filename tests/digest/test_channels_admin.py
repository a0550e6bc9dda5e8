"""The channels' admin: add one (URL checked, reader row made), the secret shown once, change,
pause and resume, the delivery history, and channel rows kept out of the Subscribers admin."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

from digest.channels import ChannelFields, channel_create, channel_pause
from digest.models import Channel, Delivery, Issue
from subscriptions.models import Seed, Subscriber
from subscriptions.seeds import SEEDS_MAX
from subscriptions.services import Preferences
from tests.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/abcDEF123"
WEBHOOK_URL = "https://hooks.example.org/paperboy"
ADD_URL = reverse("admin:digest_channel_add")
LIST_URL = reverse("admin:digest_channel_changelist")


def _form(**fields: Any) -> dict[str, Any]:
    return {
        "name": "ML reading group",
        "kind": "slack",
        "url": SLACK_URL,
        "interests": "sparse attention, video diffusion",
        "categories": ["cs.LG", "cs.CV"],
        "frequency": "weekdays",
        "digest_size": "7",
        "delivery_hour": "9",
        "timezone": "Europe/Paris",
        **fields,
    }


def _channel(kind: str = "slack", url: str = SLACK_URL, name: str = "ML team") -> Channel:
    return channel_create(
        fields=ChannelFields(name=name, kind=kind, url=url), preferences=Preferences()
    )


def _messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_an_editor_adds_a_slack_channel_with_its_reader_row(
    admin_client: Client, channel_dns: dict[str, str]
) -> None:
    form = admin_client.get(ADD_URL).content.decode()
    assert 'name="url"' in form
    assert 'name="delivery_hour"' in form

    response = admin_client.post(ADD_URL, _form(), follow=True)

    assert response.status_code == 200
    channel = Channel.objects.select_related("subscriber").get()
    assert (channel.name, channel.kind, channel.url, channel.secret) == (
        "ML reading group",
        "slack",
        SLACK_URL,
        "",
    )
    reader = channel.subscriber
    assert (reader.via, reader.email, reader.status) == ("channel", "", "active")
    assert reader.confirmed_at is not None
    assert reader.interests == "sparse attention, video diffusion"
    assert reader.categories == ["cs.CV", "cs.LG"]
    assert (reader.frequency, reader.digest_size, reader.delivery_hour, reader.timezone) == (
        "weekdays",
        7,
        9,
        "Europe/Paris",
    )
    page = response.content.decode()
    assert "ML reading group" in page
    assert "whsec_" not in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "http://hooks.slack.com/services/T0/B0/x"}, "Use an https:// address"),
        ({"url": "https://hooks.example.org/services/T0/B0/x"}, "posts to hooks.slack.com only"),
        ({"url": "https://hooks.slack.com/apps/x"}, "This is not a webhook address"),
        ({"kind": "discord"}, "posts to discord.com only"),
        (
            {"kind": "webhook", "url": "https://intranet.example.org/hook"},
            "is not a public address",
        ),
        ({"kind": "webhook", "url": "https://gone.example.org/hook"}, "does not resolve"),
        ({"kind": "webhook", "url": "not a url"}, "Use an https:// address"),
        ({"kind": "carrier-pigeon"}, "Select a valid choice"),
        ({"digest_size": "99"}, "A digest has at most 20 papers."),
        ({"timezone": "Mars/Olympus"}, "Pick a time zone from the list."),
        ({"name": ""}, "This field is required."),
    ],
)
def test_a_refused_channel_says_why_and_stores_nothing(
    admin_client: Client, channel_dns: dict[str, str], fields: dict[str, str], message: str
) -> None:
    channel_dns["intranet.example.org"] = "192.168.1.20"

    response = admin_client.post(ADD_URL, _form(**fields))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Channel.objects.exists()
    assert not Subscriber.objects.exists()


def test_a_webhooks_secret_is_shown_once_then_masked(
    admin_client: Client, channel_dns: dict[str, str]
) -> None:
    response = admin_client.post(ADD_URL, _form(kind="webhook", url=WEBHOOK_URL), follow=True)

    channel = Channel.objects.get()
    assert channel.secret.startswith("whsec_")
    assert any(channel.secret in message for message in _messages(response))
    change = admin_client.get(reverse("admin:digest_channel_change", args=[channel.pk]))
    listing = admin_client.get(LIST_URL)
    for page in (change, listing):
        assert channel.secret not in page.content.decode()
    assert "whsec_••••••••" in change.content.decode()


def test_an_editor_changes_the_url_and_preferences_but_not_the_kind(
    admin_client: Client, channel_dns: dict[str, str]
) -> None:
    channel = _channel()
    url = reverse("admin:digest_channel_change", args=[channel.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="kind"' not in page

    new_url = "https://hooks.slack.com/services/T0001/B0002/zzz"
    response = admin_client.post(url, _form(url=new_url, kind="webhook", interests="robotics"))

    assert response.status_code == 302
    channel = Channel.objects.select_related("subscriber").get()
    assert (channel.kind, channel.url, channel.secret) == ("slack", new_url, "")
    assert channel.subscriber.interests == "robotics"
    assert Subscriber.objects.count() == 1


def test_a_change_to_a_private_url_is_refused(
    admin_client: Client, channel_dns: dict[str, str]
) -> None:
    channel = _channel("webhook", WEBHOOK_URL)
    url = reverse("admin:digest_channel_change", args=[channel.pk])

    response = admin_client.post(url, _form(url="https://127.0.0.1/hook"))

    assert "127.0.0.1 is not a public address" in response.content.decode()
    assert Channel.objects.get().url == WEBHOOK_URL


def test_the_list_shows_status_and_the_actions_pause_and_resume(
    admin_client: Client, channel_dns: dict[str, str]
) -> None:
    channel = _channel()
    Channel.objects.filter(pk=channel.pk).update(failures=2, last_error="HTTP 500")

    admin_client.post(
        LIST_URL, {"action": "pause", ACTION_CHECKBOX_NAME: [channel.pk]}, follow=True
    )
    paused = Channel.objects.select_related("subscriber").get()
    assert paused.paused_at is not None
    assert paused.subscriber.status == "paused"
    listing = admin_client.get(LIST_URL).content.decode()
    assert "paused by admin" in listing
    assert "HTTP 500" in listing

    admin_client.post(
        LIST_URL, {"action": "resume", ACTION_CHECKBOX_NAME: [channel.pk]}, follow=True
    )

    resumed = Channel.objects.select_related("subscriber").get()
    assert (resumed.paused_at, resumed.pause_reason, resumed.failures) == (None, "", 0)
    assert resumed.subscriber.status == "active"


def test_resume_brings_back_a_channel_paused_by_failures(
    admin_client: Client, channel_dns: dict[str, str]
) -> None:
    channel = _channel()
    Channel.objects.filter(pk=channel.pk).update(failures=3)
    channel_pause(subscriber_id=channel.pk, reason="3 failed deliveries in a row")

    response = admin_client.post(
        LIST_URL, {"action": "resume", ACTION_CHECKBOX_NAME: [channel.pk]}, follow=True
    )

    assert "Resumed 1 of 1 channels." in _messages(response)
    assert Subscriber.objects.get().status == "active"


def test_the_change_page_shows_the_channels_latest_deliveries(
    admin_client: Client, channel_dns: dict[str, str]
) -> None:
    channel = _channel()
    day = dt.date(2026, 1, 14)
    start = dt.datetime(2026, 1, 13, 6, tzinfo=dt.UTC)
    issue = Issue.objects.create(
        date=day, window_start=start, window_end=start + dt.timedelta(days=1)
    )
    Delivery.objects.create(
        issue=issue,
        subscriber_id=channel.pk,
        status="failed",
        papers=["2601.00001", "2601.00002"],
        error="HTTP 400: <b>invalid_payload</b>",
    )

    page = admin_client.get(reverse("admin:digest_channel_change", args=[channel.pk]))

    html = page.content.decode()
    assert "2026-01-14 daily" in html
    assert "<td>Failed</td><td>–</td><td>2</td>" in html
    assert "HTTP 400: &lt;b&gt;invalid_payload&lt;/b&gt;" in html


def test_deleting_a_channel_deletes_its_reader_row(
    admin_client: Client, channel_dns: dict[str, str]
) -> None:
    channel = _channel()

    admin_client.post(
        reverse("admin:digest_channel_delete", args=[channel.pk]), {"post": "yes"}, follow=True
    )

    assert not Channel.objects.exists()
    assert not Subscriber.objects.exists()


def test_the_subscribers_admin_does_not_list_channels(
    admin_client: Client, channel_dns: dict[str, str]
) -> None:
    channel = _channel()
    reader = SubscriberFactory.create(email="person@example.org")

    listing = admin_client.get(reverse("admin:subscriptions_subscriber_changelist"))
    change = admin_client.get(
        reverse("admin:subscriptions_subscriber_change", args=[channel.pk]), follow=True
    )

    assert reader.email in listing.content.decode()
    assert listing.context["cl"].result_count == 1
    assert dict((v, n) for v, _, n in listing.context["status_counts"])["active"] == 1
    assert change.redirect_chain  # "doesn't exist", back to the list


def test_an_editor_gives_a_channel_example_papers_that_it_learns_from(
    admin_client: Client, channel_dns: dict[str, str]
) -> None:
    known = PaperFactory.create(arxiv_id="2611.00001")

    response = admin_client.post(
        ADD_URL, _form(seeds="https://arxiv.org/abs/2611.00001\n2611.00002"), follow=True
    )

    channel = Channel.objects.select_related("subscriber").get()
    seeds = dict(channel.subscriber.seeds.values_list("arxiv_id", "status"))
    assert seeds == {known.arxiv_id: "ready", "2611.00002": "pending"}
    assert any("Added 2 example papers" in m for m in _messages(response))
    page = admin_client.get(reverse("admin:digest_channel_change", args=[channel.pk]))
    assert "2611.00001; 2611.00002" in page.content.decode()


def test_too_many_example_papers_are_refused_and_nothing_is_stored(
    admin_client: Client, channel_dns: dict[str, str]
) -> None:
    ids = "\n".join(f"2611.{n:05d}" for n in range(SEEDS_MAX + 1))

    response = admin_client.post(ADD_URL, _form(seeds=ids))

    assert response.status_code == 200
    assert "at most 100 example papers" in response.content.decode()
    assert not Channel.objects.exists()
    assert not Seed.objects.exists()
