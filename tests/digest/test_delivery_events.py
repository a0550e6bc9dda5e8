"""Provider webhooks stamp delivered, opened, clicked, bounced and complained on the Delivery."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from digest.models import Delivery, Issue
from tests.factories import SubscriberFactory
from tests.helpers import POSTMARK_WEBHOOK, WEBHOOK_SECRET, basic_auth

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _webhook_settings(settings: Any) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}


def _delivery(email: str = "reader@example.org", message_id: str = "pm-0001") -> Delivery:
    issue = Issue.objects.create(
        date=dt.date(2026, 11, 24),
        window_start=dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
        window_end=dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
    )
    reader = SubscriberFactory.create(email=email)
    return Delivery.objects.create(
        issue=issue, subscriber=reader, status="sent", message_id=message_id
    )


def _post_webhook(client: Client, payload: dict[str, Any]) -> int:
    response = client.post(
        POSTMARK_WEBHOOK,
        json.dumps(payload),
        content_type="application/json",
        **basic_auth(WEBHOOK_SECRET),
    )
    return response.status_code


def _postmark_event(record_type: str, delivery: Delivery, **extra: Any) -> dict[str, Any]:
    return {
        "RecordType": record_type,
        "MessageID": delivery.message_id,
        "Recipient": delivery.subscriber.email,
        "Metadata": {"delivery": str(delivery.pk)},
        **extra,
    }


def test_delivered_opened_and_clicked_are_stamped_on_the_delivery(client: Client) -> None:
    delivery = _delivery()
    assert (
        _post_webhook(
            client, _postmark_event("Delivery", delivery, DeliveredAt="2026-11-24T08:00:05Z")
        )
        == 200
    )
    assert (
        _post_webhook(
            client,
            _postmark_event("Open", delivery, ReceivedAt="2026-11-24T09:10:00Z", FirstOpen=True),
        )
        == 200
    )
    assert (
        _post_webhook(
            client,
            _postmark_event(
                "Click", delivery, ReceivedAt="2026-11-24T09:11:00Z", OriginalLink="https://x"
            ),
        )
        == 200
    )
    delivery.refresh_from_db()
    assert delivery.delivered_at == dt.datetime(2026, 11, 24, 8, 0, 5, tzinfo=dt.UTC)
    assert delivery.opened_at == dt.datetime(2026, 11, 24, 9, 10, tzinfo=dt.UTC)
    assert delivery.clicked_at == dt.datetime(2026, 11, 24, 9, 11, tzinfo=dt.UTC)
    assert delivery.bounced_at is None
    assert delivery.complained_at is None


def test_a_redelivered_event_keeps_the_first_time(client: Client) -> None:
    delivery = _delivery()
    _post_webhook(client, _postmark_event("Open", delivery, ReceivedAt="2026-11-24T09:10:00Z"))
    _post_webhook(client, _postmark_event("Open", delivery, ReceivedAt="2026-11-25T07:00:00Z"))
    delivery.refresh_from_db()
    assert delivery.opened_at == dt.datetime(2026, 11, 24, 9, 10, tzinfo=dt.UTC)


def test_a_bounce_without_metadata_is_found_by_message_id_and_suppresses_the_reader(
    client: Client,
) -> None:
    delivery = _delivery(message_id="2706ee8a-737c-4285-b032-ccd317af53ed")
    bounce = {
        "RecordType": "Bounce",
        "ID": 901542550,
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": delivery.message_id,
        "Email": delivery.subscriber.email,
        "BouncedAt": "2026-11-24T08:01:00Z",
        "Inactive": True,
    }
    assert _post_webhook(client, bounce) == 200
    delivery.refresh_from_db()
    assert delivery.bounced_at == dt.datetime(2026, 11, 24, 8, 1, tzinfo=dt.UTC)
    assert delivery.subscriber.status == "bounced"


def test_metadata_naming_another_readers_delivery_is_ignored(client: Client) -> None:
    mine = _delivery()
    other = Delivery.objects.create(
        issue=mine.issue,
        subscriber=SubscriberFactory.create(email="other@example.org"),
        status="sent",
        message_id="pm-2",
    )
    forged = _postmark_event("Open", mine, ReceivedAt="2026-11-24T09:10:00Z")
    forged["Metadata"] = {"delivery": str(other.pk)}
    assert _post_webhook(client, forged) == 200
    other.refresh_from_db()
    mine.refresh_from_db()
    assert other.opened_at is None
    assert mine.opened_at is None


def test_an_unauthenticated_event_changes_nothing(client: Client) -> None:
    delivery = _delivery()
    payload = json.dumps(_postmark_event("Delivery", delivery, DeliveredAt="2026-11-24T08:00:05Z"))
    response = client.post(POSTMARK_WEBHOOK, payload, content_type="application/json")
    assert response.status_code in (400, 401, 403)
    delivery.refresh_from_db()
    assert delivery.delivered_at is None
