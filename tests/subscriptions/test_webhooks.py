"""Suppression from the email provider's tracking webhooks, as Postmark and Mailgun post them.

The payloads have the shapes of Anymail's own webhook tests (captured from the providers):
Postmark's Bounce / SpamComplaint / Delivery / SubscriptionChange records, and Mailgun's
signed "event-data" events.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from subscriptions.models import Subscriber, WebhookEvent
from subscriptions.selectors import subscriber_list_deliverable
from tests.factories import SubscriberFactory
from tests.helpers import FORM, POSTMARK_WEBHOOK, WEBHOOK_SECRET, basic_auth, link_path

pytestmark = pytest.mark.django_db

MAILGUN_KEY = "TEST_WEBHOOK_SIGNING_KEY"
MAILGUN_WEBHOOK = "/anymail/mailgun/tracking/"
Status = Subscriber.Status

POSTMARK_HARD_BOUNCE: dict[str, Any] = {
    "RecordType": "Bounce",
    "ID": 901542550,
    "Type": "HardBounce",
    "TypeCode": 1,
    "ServerID": 23,
    "Name": "Hard bounce",
    "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
    "Description": (
        "The server was unable to deliver your message (ex: unknown user, mailbox not found)."
    ),
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    "Email": "reader@example.org",
    "From": "sender@example.com",
    "BouncedAt": "2016-04-27T16:28:50.3963933-04:00",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Postmark event test",
    "Content": "...",
}
POSTMARK_SPAM_COMPLAINT: dict[str, Any] = {
    "RecordType": "SpamComplaint",
    "ID": 901542551,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "Tag": "Test",
    "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ee",
    "ServerID": 1234,
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "reader@example.org",
    "From": "sender@example.com",
    "BouncedAt": "2016-04-27T16:28:50.3963933-04:00",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Postmark event test",
}
POSTMARK_DELIVERY: dict[str, Any] = {
    "RecordType": "Delivery",
    "ServerId": 23,
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Recipient": "reader@example.org",
    "Tag": "welcome-email",
    "Metadata": {"cohort": "2014-08-A"},
    "DeliveredAt": "2014-08-01T13:28:10.2735393-04:00",
    "Details": "Test delivery webhook details",
}
POSTMARK_UNSUBSCRIBE: dict[str, Any] = {
    "RecordType": "SubscriptionChange",
    "MessageID": "a4909a96-73d7-4c49-b148-a54522d3f7ac",
    "ServerID": 23,
    "MessageStream": "outbound",
    "ChangedAt": "2022-06-05T17:17:32Z",
    "Recipient": "reader@example.org",
    "Origin": "Recipient",
    "SuppressSending": True,
    "SuppressionReason": "ManualSuppression",
    "Tag": "welcome-email",
    "Metadata": {},
}


def postmark_soft_bounce(n: int, *, email: str = "reader@example.org") -> dict[str, Any]:
    """Postmark's "SoftBounce" record (mailbox full), the n-th, for its own message."""
    return {
        **POSTMARK_HARD_BOUNCE,
        "ID": 902000000 + n,
        "Type": "SoftBounce",
        "TypeCode": 4096,
        "Name": "Soft bounce",
        "MessageID": f"5c2e7a10-0000-4000-8000-{n:012d}",
        "Description": (
            "Unable to temporarily deliver this email (mailbox full, account disabled...)."
        ),
        "Details": "smtp;452 4.2.2 The email account that you tried to reach is over quota.",
        "Email": email,
        "Inactive": False,
    }


def mailgun_event(
    event_data: dict[str, Any], *, token: str, key: str = MAILGUN_KEY
) -> dict[str, Any]:
    """A Mailgun webhook body, signed as Mailgun signs it: HMAC-SHA256 of timestamp + token."""
    timestamp = str(int(event_data.get("timestamp", 1534108637)))
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


def mailgun_data(
    event: str, *, recipient: str = "reader@example.org", **extra: Any
) -> dict[str, Any]:
    return {
        "event": event,
        "recipient": recipient,
        "timestamp": 1534110422.389832,
        "message": {
            "headers": {
                "to": recipient,
                "message-id": "20180812214658.1.0DF563D0B3597700@example.org",
            }
        },
        **extra,
    }


MAILGUN_PERMANENT_FAILURE: dict[str, Any] = {
    "severity": "permanent",
    "reason": "bounce",
    "delivery-status": {
        "code": 550,
        "message": "5.1.1 The email account that you tried to reach does not exist.",
    },
}
MAILGUN_TEMPORARY_FAILURE: dict[str, Any] = {
    "severity": "temporary",
    "reason": "generic",
    "delivery-status": {
        "attempt-no": 3,
        "code": 498,
        "message": "No MX for example.org",
        "retry-seconds": 1800,
    },
}


@pytest.fixture(autouse=True)
def _webhook_settings(settings: Any) -> None:
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
    }


@pytest.fixture
def post(client: Client) -> Any:
    """POST a JSON body to a tracking webhook, with the right credentials unless told otherwise."""

    def send(url: str, payload: Any, *, credentials: str | None = WEBHOOK_SECRET) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload)
        return client.post(url, body, content_type="application/json", **basic_auth(credentials))

    return send


@pytest.fixture
def reader() -> Subscriber:
    return SubscriberFactory.create(email="reader@example.org", soft_bounces=0)


def status_of(subscriber: Subscriber) -> str:
    subscriber.refresh_from_db()
    return subscriber.status


# --- Authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [None, "paperboy:wrong", "someone:webhook-s3cret", ""],
    ids=["none", "wrong", "user", "empty"],
)
def test_it_refuses_a_webhook_without_the_right_credentials_and_changes_nothing(
    post, reader, credentials
) -> None:
    response = post(POSTMARK_WEBHOOK, POSTMARK_HARD_BOUNCE, credentials=credentials)

    assert response.status_code == 400
    assert status_of(reader) == Status.ACTIVE
    assert not WebhookEvent.objects.exists()


def test_it_refuses_every_webhook_while_no_secret_is_configured(post, reader, settings) -> None:
    # Anymail alone would accept anyone's events (with a warning) when no secret is set.
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}

    assert post(POSTMARK_WEBHOOK, POSTMARK_HARD_BOUNCE, credentials=None).status_code == 400
    assert post(POSTMARK_WEBHOOK, POSTMARK_HARD_BOUNCE).status_code == 400
    assert status_of(reader) == Status.ACTIVE
    assert not WebhookEvent.objects.exists()


def test_it_refuses_a_mailgun_event_with_a_bad_signature_even_with_the_secret(post, reader) -> None:
    forged = mailgun_event(
        mailgun_data("failed", **MAILGUN_PERMANENT_FAILURE), token="t" * 50, key="not-the-key"
    )

    assert post(MAILGUN_WEBHOOK, forged).status_code == 400
    assert status_of(reader) == Status.ACTIVE
    assert not WebhookEvent.objects.exists()


def test_it_answers_404_not_500_for_a_provider_that_is_not_configured(
    post, reader, settings
) -> None:
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": WEBHOOK_SECRET
    }  # no Mailgun signing key: Anymail's view cannot start

    response = post(MAILGUN_WEBHOOK, mailgun_event(mailgun_data("complained"), token="a" * 50))

    assert response.status_code == 404
    assert status_of(reader) == Status.ACTIVE


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'"text"',
        b'{"RecordType": "Bounce", "Type": ["x"]}',
        b'{"RecordType": "Bounce"',
    ],
    ids=["not-json", "not-utf8", "list", "null", "string", "odd-type", "truncated"],
)
def test_it_answers_a_malformed_postmark_body_with_400_and_stores_nothing(
    post, reader, body
) -> None:
    response = post(POSTMARK_WEBHOOK, body)

    assert response.status_code == 400
    assert status_of(reader) == Status.ACTIVE
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"signature": 1}',
        json.dumps(mailgun_event({"no": "event"}, token="b" * 50)).encode(),
    ],
    ids=["not-json", "list", "bad-signature-block", "unsigned-shape"],
)
def test_it_answers_a_malformed_mailgun_body_with_400_and_stores_nothing(
    post, reader, body
) -> None:
    response = post(MAILGUN_WEBHOOK, body)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


# --- What each event does ----------------------------------------------------------------------


def test_a_postmark_hard_bounce_marks_the_address_bounced(post, reader) -> None:
    assert post(POSTMARK_WEBHOOK, POSTMARK_HARD_BOUNCE).status_code == 200

    assert status_of(reader) == Status.BOUNCED
    event = WebhookEvent.objects.get()
    assert (event.esp_name, event.event_id, event.event_type) == (
        "Postmark",
        "901542550",
        "bounced",
    )
    assert (event.action, event.subscriber) == (WebhookEvent.Action.HARD_BOUNCE, reader)
    assert event.message_id == "2706ee8a-737c-4285-b032-ccd317af53ed"


def test_it_matches_the_bounced_address_whatever_its_case(post) -> None:
    reader = SubscriberFactory.create(email="Reader.Name@example.org")

    post(POSTMARK_WEBHOOK, {**POSTMARK_HARD_BOUNCE, "Email": "reader.name@EXAMPLE.ORG"})

    assert status_of(reader) == Status.BOUNCED


def test_a_mailgun_permanent_failure_marks_the_address_bounced(post, reader) -> None:
    response = post(
        MAILGUN_WEBHOOK,
        mailgun_event(mailgun_data("failed", **MAILGUN_PERMANENT_FAILURE), token="c" * 50),
    )

    assert response.status_code == 200
    assert status_of(reader) == Status.BOUNCED
    assert WebhookEvent.objects.get().esp_name == "Mailgun"


@pytest.mark.parametrize(
    ("url", "payload"),
    [
        (POSTMARK_WEBHOOK, POSTMARK_SPAM_COMPLAINT),
        (MAILGUN_WEBHOOK, mailgun_event(mailgun_data("complained"), token="d" * 50)),
    ],
    ids=["postmark", "mailgun"],
)
def test_a_spam_complaint_marks_the_address_complained(post, reader, url, payload) -> None:
    assert post(url, payload).status_code == 200

    assert status_of(reader) == Status.COMPLAINED


def test_a_complaint_after_a_bounce_still_counts_as_a_complaint(post, reader) -> None:
    post(POSTMARK_WEBHOOK, POSTMARK_HARD_BOUNCE)
    post(POSTMARK_WEBHOOK, POSTMARK_SPAM_COMPLAINT)

    assert status_of(reader) == Status.COMPLAINED


@pytest.mark.parametrize(
    ("url", "payload"),
    [
        (POSTMARK_WEBHOOK, POSTMARK_UNSUBSCRIBE),
        (MAILGUN_WEBHOOK, mailgun_event(mailgun_data("unsubscribed"), token="e" * 50)),
    ],
    ids=["postmark", "mailgun"],
)
def test_an_unsubscribe_at_the_provider_unsubscribes(post, reader, url, payload) -> None:
    assert post(url, payload).status_code == 200

    assert status_of(reader) == Status.UNSUBSCRIBED
    assert reader.unsubscribed_at is not None


def test_soft_bounces_are_counted_and_the_third_in_a_row_suppresses(post, reader) -> None:
    post(POSTMARK_WEBHOOK, postmark_soft_bounce(1))
    post(POSTMARK_WEBHOOK, postmark_soft_bounce(2))

    assert status_of(reader) == Status.ACTIVE
    assert reader.soft_bounces == 2

    post(POSTMARK_WEBHOOK, postmark_soft_bounce(3))

    assert status_of(reader) == Status.BOUNCED
    assert reader.soft_bounces == 3


def test_a_delivery_starts_the_soft_bounce_count_again(post, reader) -> None:
    post(POSTMARK_WEBHOOK, postmark_soft_bounce(1))
    post(POSTMARK_WEBHOOK, postmark_soft_bounce(2))
    post(POSTMARK_WEBHOOK, POSTMARK_DELIVERY)

    reader.refresh_from_db()
    assert reader.soft_bounces == 0

    post(POSTMARK_WEBHOOK, postmark_soft_bounce(3))
    post(POSTMARK_WEBHOOK, postmark_soft_bounce(4))

    assert status_of(reader) == Status.ACTIVE
    assert reader.soft_bounces == 2


def test_a_postmark_transient_bounce_is_a_soft_bounce(post, reader) -> None:
    post(
        POSTMARK_WEBHOOK,
        {**postmark_soft_bounce(1), "Type": "Transient", "TypeCode": 2, "Name": "Message delayed"},
    )

    assert status_of(reader) == Status.ACTIVE
    assert reader.soft_bounces == 1
    assert WebhookEvent.objects.get().event_type == "deferred"


def test_mailgun_retries_of_one_message_count_as_one_soft_bounce(post, reader) -> None:
    # Mailgun reports a temporary failure for every retry: three reports, one message.
    for attempt, token in enumerate(("f" * 50, "g" * 50, "h" * 50), start=1):
        data = mailgun_data("failed", **copy.deepcopy(MAILGUN_TEMPORARY_FAILURE))
        data["delivery-status"]["attempt-no"] = attempt
        assert post(MAILGUN_WEBHOOK, mailgun_event(data, token=token)).status_code == 200

    assert status_of(reader) == Status.ACTIVE
    assert reader.soft_bounces == 1
    assert WebhookEvent.objects.filter(event_type="deferred").count() == 3


def test_a_refusal_to_send_to_a_previously_bounced_address_marks_it_bounced(post, reader) -> None:
    rejected = mailgun_data(
        "rejected", reason="suppress-bounce", reject={"reason": "address previously bounced"}
    )

    assert post(MAILGUN_WEBHOOK, mailgun_event(rejected, token="r" * 50)).status_code == 200

    assert status_of(reader) == Status.BOUNCED


def test_a_refusal_for_a_reason_of_ours_says_nothing_about_the_reader(post, reader) -> None:
    # Postmark's "Blocked" (e.g. our content or reputation): Anymail's "rejected" with reason
    # "blocked".
    post(
        POSTMARK_WEBHOOK,
        {**POSTMARK_HARD_BOUNCE, "Type": "Blocked", "TypeCode": 100006, "Name": "ISP block"},
    )

    assert status_of(reader) == Status.ACTIVE
    assert WebhookEvent.objects.get().event_type == "rejected"


def test_opens_and_clicks_change_nothing(post, reader) -> None:
    reader.soft_bounces = 2
    reader.save()
    opened = {
        **POSTMARK_DELIVERY,
        "RecordType": "Open",
        "ReceivedAt": "2016-04-27T16:21:41.2493688-04:00",
    }

    assert post(POSTMARK_WEBHOOK, opened).status_code == 200

    reader.refresh_from_db()
    assert (reader.status, reader.soft_bounces) == (Status.ACTIVE, 2)
    assert WebhookEvent.objects.get().action == WebhookEvent.Action.NONE


# --- Deduplication ------------------------------------------------------------------------------


def test_the_same_soft_bounce_delivered_twice_counts_once(post, reader) -> None:
    assert post(POSTMARK_WEBHOOK, postmark_soft_bounce(1)).status_code == 200
    assert post(POSTMARK_WEBHOOK, postmark_soft_bounce(1)).status_code == 200

    reader.refresh_from_db()
    assert reader.soft_bounces == 1
    assert WebhookEvent.objects.count() == 1


def test_a_replayed_bounce_does_not_suppress_a_reader_who_came_back(
    post, reader, signup, client
) -> None:
    post(POSTMARK_WEBHOOK, POSTMARK_HARD_BOUNCE)
    assert status_of(reader) == Status.BOUNCED
    signup(email="reader@example.org")
    client.post(link_path(mail.outbox[-1], "confirm"))
    assert status_of(reader) == Status.ACTIVE

    # The provider (or someone who captured it) delivers the same event again.
    assert post(POSTMARK_WEBHOOK, POSTMARK_HARD_BOUNCE).status_code == 200

    assert status_of(reader) == Status.ACTIVE
    assert WebhookEvent.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_twice_at_once_acts_once() -> None:
    reader = SubscriberFactory.create(email="reader@example.org", soft_bounces=0)
    start = threading.Barrier(2)
    statuses: list[int] = []

    def deliver() -> None:
        try:
            start.wait()
            response = Client().post(
                POSTMARK_WEBHOOK,
                json.dumps(postmark_soft_bounce(1)),
                content_type="application/json",
                **basic_auth(WEBHOOK_SECRET),
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200, 200]
    reader.refresh_from_db()
    assert reader.soft_bounces == 1
    assert WebhookEvent.objects.count() == 1


def test_the_same_event_id_from_another_provider_is_another_event(post, reader) -> None:
    token = "901542550"  # Postmark's bounce id, by chance also a Mailgun token
    post(POSTMARK_WEBHOOK, postmark_soft_bounce(0) | {"ID": 901542550})
    post(
        MAILGUN_WEBHOOK,
        mailgun_event(mailgun_data("failed", **MAILGUN_TEMPORARY_FAILURE), token=token),
    )

    assert WebhookEvent.objects.filter(event_id=token).count() == 2
    reader.refresh_from_db()
    assert reader.soft_bounces == 2


def test_events_without_an_id_are_deduplicated_on_their_content(post, reader) -> None:
    # Postmark's deliveries carry no event id.
    post(POSTMARK_WEBHOOK, POSTMARK_DELIVERY)
    post(POSTMARK_WEBHOOK, POSTMARK_DELIVERY)
    post(
        POSTMARK_WEBHOOK, {**POSTMARK_DELIVERY, "DeliveredAt": "2014-08-02T09:00:00.0000000-04:00"}
    )

    ids = list(WebhookEvent.objects.values_list("event_id", flat=True))
    assert len(ids) == 2
    assert all(event_id.startswith("sha256:") for event_id in ids)


def test_events_for_unknown_addresses_are_recorded_once_and_ignored(post, reader) -> None:
    stranger = {**POSTMARK_HARD_BOUNCE, "Email": "stranger@example.net"}

    assert post(POSTMARK_WEBHOOK, stranger).status_code == 200
    assert post(POSTMARK_WEBHOOK, stranger).status_code == 200

    event = WebhookEvent.objects.get()
    assert event.subscriber is None
    assert event.event_id == "901542550"
    assert status_of(reader) == Status.ACTIVE
    assert not Subscriber.objects.filter(email__iexact="stranger@example.net").exists()


def test_deleting_a_reader_keeps_their_webhook_events_without_the_address(post, reader) -> None:
    post(POSTMARK_WEBHOOK, POSTMARK_HARD_BOUNCE)

    reader.delete()

    event = WebhookEvent.objects.get()
    assert event.subscriber is None
    assert "reader@example.org" not in json.dumps(list(WebhookEvent.objects.values()), default=str)


# --- Suppressed addresses get nothing until they sign up again and confirm ----------------------


@pytest.mark.parametrize(
    "payload", [POSTMARK_HARD_BOUNCE, POSTMARK_SPAM_COMPLAINT], ids=["bounced", "complained"]
)
def test_suppressed_addresses_get_no_digest(post, reader, payload) -> None:
    other = SubscriberFactory.create()
    assert set(subscriber_list_deliverable()) == {reader, other}

    post(POSTMARK_WEBHOOK, payload)

    assert list(subscriber_list_deliverable()) == [other]


def test_a_bounce_between_sign_up_and_sending_stops_the_confirmation(
    post,
    client,
    django_capture_on_commit_callbacks,
) -> None:
    with django_capture_on_commit_callbacks() as queued:
        assert client.post("/subscribe/", FORM).status_code == 303
    post(POSTMARK_WEBHOOK, {**POSTMARK_HARD_BOUNCE, "Email": FORM["email"]})
    for callback in queued:
        callback()

    assert Subscriber.objects.get().status == Status.BOUNCED
    assert mail.outbox == []


@pytest.mark.parametrize(
    "payload", [POSTMARK_HARD_BOUNCE, POSTMARK_SPAM_COMPLAINT], ids=["bounced", "complained"]
)
def test_a_suppressed_reader_who_signs_up_again_gets_a_confirmation_and_comes_back_on_confirming(
    post,
    reader,
    signup,
    client,
    payload,
) -> None:
    post(POSTMARK_WEBHOOK, postmark_soft_bounce(1))
    post(POSTMARK_WEBHOOK, payload)
    assert status_of(reader) != Status.ACTIVE

    # The reader asked for it: the sign-up re-opens the address as pending and mails one
    # confirmation.
    assert signup(email="READER@example.org").status_code == 303
    assert status_of(reader) == Status.PENDING
    assert not subscriber_list_deliverable().filter(pk=reader.pk).exists()
    [email] = mail.outbox
    assert email.to == ["reader@example.org"]
    assert email.subject == "Confirm your Paperboy subscription"

    assert client.post(link_path(email, "confirm")).status_code == 200

    reader.refresh_from_db()
    assert (reader.status, reader.soft_bounces) == (Status.ACTIVE, 0)
    assert subscriber_list_deliverable().filter(pk=reader.pk).exists()


# --- Fuzz: whatever arrives, no 5xx, and a refused body stores nothing ------------------------

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
addresses = st.sampled_from(
    ["reader@example.org", "READER@example.org", "stranger@example.net", "", "a@b", "x\x00@y.z"]
)
timestamps = st.sampled_from(["2016-04-27T16:28:50.39-04:00", "2016-13-45T99:00:00Z", "", "soon"])
postmark_bodies = st.fixed_dictionaries(
    {
        "RecordType": st.sampled_from(
            ["Bounce", "SpamComplaint", "Delivery", "SubscriptionChange", "Open", "Inbound"]
        )
        | json_values,
        "Type": st.sampled_from(
            ["HardBounce", "SoftBounce", "Transient", "SpamComplaint", "Blocked"]
        )
        | json_values,
    },
    optional={
        "ID": st.integers() | st.text(max_size=10) | json_values,
        "Email": addresses | json_values,
        "Recipient": addresses | json_values,
        "MessageID": st.text(max_size=40) | json_values,
        "BouncedAt": timestamps | json_values,
        "DeliveredAt": timestamps | json_values,
        "SuppressSending": st.booleans() | json_values,
        "SuppressionReason": st.sampled_from(["HardBounce", "ManualSuppression", "SpamComplaint"])
        | json_values,
        "Metadata": json_values,
    },
)
mailgun_event_data = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["failed", "delivered", "complained", "unsubscribed", "rejected"])
        | json_values
    },
    optional={
        "severity": st.sampled_from(["permanent", "temporary"]) | json_values,
        "reason": st.sampled_from(["bounce", "generic", "suppress-bounce"]) | json_values,
        "recipient": addresses | json_values,
        "timestamp": st.floats(allow_nan=False, allow_infinity=False) | json_values,
        "message": json_values,
        "delivery-status": json_values,
        "user-variables": json_values,
        "tags": json_values,
    },
)


def _events_and_subscribers() -> tuple[int, list[tuple[int, str, int]]]:
    subscribers = list(
        Subscriber.objects.order_by("pk").values_list("pk", "status", "soft_bounces")
    )
    return WebhookEvent.objects.count(), subscribers


def _assert_refused_or_recorded_once(response: Any, before: tuple[int, list[Any]]) -> None:
    assert response.status_code in (200, 400), response.status_code
    event(f"HTTP {response.status_code}")  # --hypothesis-show-statistics: both answers are reached
    if response.status_code == 400:
        assert _events_and_subscribers() == before
    else:
        assert WebhookEvent.objects.count() <= before[0] + 1
        assert all(event_id for event_id in WebhookEvent.objects.values_list("event_id", flat=True))


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=120), json_values.map(json.dumps), postmark_bodies.map(json.dumps)
    )
)
def test_fuzzed_postmark_webhooks_never_fail_and_a_refused_body_stores_nothing(
    post, reader, body
) -> None:
    before = _events_and_subscribers()
    _assert_refused_or_recorded_once(
        post(POSTMARK_WEBHOOK, body.encode() if isinstance(body, str) else body), before
    )


@FUZZ
@given(
    event_data=mailgun_event_data,
    token=st.text(alphabet="abcdef0123456789", min_size=1, max_size=50),
)
def test_fuzzed_signed_mailgun_webhooks_never_fail_and_a_refused_body_stores_nothing(
    post,
    reader,
    event_data,
    token,
) -> None:
    signature = {"timestamp": "1534108637", "token": token}
    signature["signature"] = hmac.new(
        MAILGUN_KEY.encode(), f"1534108637{token}".encode(), hashlib.sha256
    ).hexdigest()
    before = _events_and_subscribers()
    _assert_refused_or_recorded_once(
        post(MAILGUN_WEBHOOK, {"signature": signature, "event-data": event_data}), before
    )


@FUZZ
@given(credentials=st.text(max_size=40), body=postmark_bodies.map(json.dumps))
def test_fuzzed_credentials_are_refused_and_store_nothing(post, reader, credentials, body) -> None:
    before = _events_and_subscribers()
    response = post(POSTMARK_WEBHOOK, body.encode(), credentials=credentials)
    assert response.status_code == (200 if credentials == WEBHOOK_SECRET else 400)
    if response.status_code == 400:
        assert _events_and_subscribers() == before
