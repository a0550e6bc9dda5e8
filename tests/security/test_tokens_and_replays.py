"""Tampered, forged, expired and replayed links, and replayed webhooks: refused, nothing changes.

tests/subscriptions/test_tokens.py and test_fuzz.py cover the confirm and unsubscribe pages; here
every action a link can take (each manage POST, delete, the address change) is fuzzed, expiry is
explored at random ages around each limit with time-machine, and links and webhooks are replayed
after the state they were made for has moved on.
"""

from __future__ import annotations

import datetime as dt
import json
import string
from typing import Any

import pytest
import time_machine
from django.core import signing
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from subscriptions.models import Subscriber, WebhookEvent
from subscriptions.tokens import MAX_AGE, Purpose, email_fingerprint, token_make
from tests.factories import SubscriberFactory
from tests.helpers import FORM, WEBHOOK_SECRET, basic_auth
from tests.helpers_fuzz import FUZZ, stored_state

pytestmark = pytest.mark.django_db

Status = Subscriber.Status
START = dt.datetime(2025, 11, 20, 9, 0, tzinfo=dt.UTC)
_TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"

# Every action behind a link: (purpose of its token, path under the token, form data).
ACTIONS = [
    (Purpose.CONFIRM, "", {}),
    (Purpose.MANAGE, "", {key: value for key, value in FORM.items() if key != "email"}),
    (Purpose.MANAGE, "pause/", {}),
    (Purpose.MANAGE, "pause/", {"action": "resume"}),
    (Purpose.MANAGE, "email/", {"new_email": "attacker@evil.example"}),
    (Purpose.MANAGE, "delete/", {}),
    (Purpose.CHANGE_EMAIL, "", {}),
    (Purpose.UNSUBSCRIBE, "", {"List-Unsubscribe": "One-Click"}),
]
ACTION_IDS = [
    "confirm",
    "preferences",
    "pause",
    "resume",
    "new-address",
    "delete",
    "change-address",
    "unsubscribe",
]


def _page_segment(purpose: Purpose) -> str:
    return "email" if purpose == Purpose.CHANGE_EMAIL else purpose.value


def _link_url(purpose: Purpose, token: str, suffix: str = "") -> str:
    return f"/{_page_segment(purpose)}/{token}/{suffix}"


def _token(subscriber: Subscriber, purpose: Purpose) -> str:
    address = subscriber.pending_email if purpose == Purpose.CHANGE_EMAIL else subscriber.email
    return token_make(subscriber_id=subscriber.pk, address=address, purpose=purpose)


def _fresh_reader(**fields: Any) -> Subscriber:
    """The one reader of a test (each hypothesis example starts again from no subscriber)."""
    Subscriber.objects.all().delete()
    return SubscriberFactory.create(
        email="reader@example.org", pending_email="new@example.org", **fields
    )


# --- Tampered and forged --------------------------------------------------------------------------

MUTATIONS = st.tuples(
    st.integers(0, 10**6),
    st.sampled_from(["change", "insert", "remove"]),
    st.sampled_from(_TOKEN_ALPHABET),
)


def _mutate(token: str, mutation: tuple[int, str, str]) -> str:
    """One character changed, inserted or removed (never the signature's last).

    The last character of the signature carries free padding bits: changing them may change nothing.
    """
    position, kind, char = mutation
    where = position % (len(token) - 1)
    if kind == "change":
        char = char if token[where] != char else ("A" if char != "A" else "B")
        return token[:where] + char + token[where + 1 :]
    if kind == "insert":
        return token[:where] + char + token[where:]
    return token[:where] + token[where + 1 :]


@FUZZ
@given(action=st.sampled_from(range(len(ACTIONS))), mutation=MUTATIONS)
def test_a_tampered_link_is_refused_by_every_action_and_changes_nothing(
    client: Client, action: int, mutation: Any
) -> None:
    purpose, suffix, data = ACTIONS[action]
    subscriber = _fresh_reader()
    tampered = _mutate(_token(subscriber, purpose), mutation)
    before = stored_state()

    response = client.post(_link_url(purpose, tampered, suffix), data, secure=True)

    assert response.status_code in (400, 404), (ACTION_IDS[action], tampered, response.status_code)
    assert stored_state() == before


@pytest.mark.parametrize(("purpose", "suffix", "data"), ACTIONS, ids=ACTION_IDS)
def test_a_link_forged_with_another_key_or_for_another_reader_is_refused(
    client: Client, settings: Any, purpose: Purpose, suffix: str, data: dict[str, Any]
) -> None:
    victim = _fresh_reader()
    attacker = SubscriberFactory.create(
        email="attacker@evil.example", pending_email="other@evil.example"
    )
    forged = {
        # The right payload, signed with a key the attacker guessed.
        "guessed key": signing.dumps(
            {"s": victim.pk, "f": email_fingerprint(victim.email, secret="django-insecure-guess")},
            key="django-insecure-guess",
            salt=f"paperboy.subscriptions.{purpose.value}",
        ),
        # The attacker's own valid link, with the victim's id swapped into the payload.
        "swapped id": _swap_id(_token(attacker, purpose), victim.pk),
    }
    before = stored_state()

    for name, token in forged.items():
        response = client.post(_link_url(purpose, token, suffix), data, secure=True)
        assert response.status_code in (400, 410), (name, response.status_code)
        assert stored_state() == before, name


def _swap_id(token: str, new_id: int) -> str:
    payload, _, rest = token.partition(":")
    claim = json.loads(signing.b64_decode(payload.encode()))
    claim["s"] = new_id
    return (
        signing.b64_encode(json.dumps(claim, separators=(",", ":")).encode()).decode() + ":" + rest
    )


# --- Expired --------------------------------------------------------------------------------------


@FUZZ
@given(action=st.sampled_from(range(len(ACTIONS))), late_by=st.integers(1, 400 * 24 * 3600))
def test_an_expired_link_is_refused_by_every_action_whenever_it_is_used(
    client: Client, action: int, late_by: int
) -> None:
    purpose, suffix, data = ACTIONS[action]
    with time_machine.travel(START, tick=False) as clock:
        subscriber = _fresh_reader(
            status=Status.PENDING if purpose == Purpose.CONFIRM else Status.ACTIVE
        )
        token = _token(subscriber, purpose)
        before = stored_state()
        clock.shift(MAX_AGE[purpose] + dt.timedelta(seconds=late_by))

        response = client.post(_link_url(purpose, token, suffix), data, secure=True)

    assert response.status_code == 410, (ACTION_IDS[action], late_by, response.status_code)
    assert "expired" in response.content.decode()
    assert stored_state() == before


@settings(FUZZ, max_examples=30)
@given(purpose=st.sampled_from(list(Purpose)), early_by=st.integers(1, 7 * 24 * 3600 - 1))
def test_a_link_still_opens_its_page_until_the_last_second(
    client: Client, purpose: Purpose, early_by: int
) -> None:
    """The control for the test above: the same links, used in time, do work."""
    with time_machine.travel(START, tick=False) as clock:
        subscriber = _fresh_reader(
            status=Status.PENDING if purpose == Purpose.CONFIRM else Status.ACTIVE
        )
        token = _token(subscriber, purpose)
        clock.shift(MAX_AGE[purpose] - dt.timedelta(seconds=early_by))

        response = client.get(_link_url(purpose, token), secure=True)

    assert response.status_code == 200


# --- Replayed -------------------------------------------------------------------------------------


def test_a_confirm_link_replayed_after_unsubscribing_does_not_subscribe_again(
    client: Client,
) -> None:
    subscriber = _fresh_reader(status=Status.PENDING, confirmed_at=None)
    confirm, unsubscribe = (
        _token(subscriber, Purpose.CONFIRM),
        _token(subscriber, Purpose.UNSUBSCRIBE),
    )
    assert client.post(_link_url(Purpose.CONFIRM, confirm), secure=True).status_code == 200
    assert client.post(_link_url(Purpose.UNSUBSCRIBE, unsubscribe), secure=True).status_code == 200
    before = stored_state()

    for _ in range(3):
        assert client.post(_link_url(Purpose.CONFIRM, confirm), secure=True).status_code == 410

    subscriber.refresh_from_db()
    assert subscriber.status == Status.UNSUBSCRIBED
    assert stored_state() == before


def test_a_confirm_link_replayed_after_a_bounce_does_not_lift_the_suppression(
    client: Client,
) -> None:
    subscriber = _fresh_reader(status=Status.PENDING, confirmed_at=None)
    confirm = _token(subscriber, Purpose.CONFIRM)
    assert client.post(_link_url(Purpose.CONFIRM, confirm), secure=True).status_code == 200
    Subscriber.objects.filter(pk=subscriber.pk).update(status=Status.BOUNCED)
    before = stored_state()

    assert client.post(_link_url(Purpose.CONFIRM, confirm), secure=True).status_code == 410

    assert stored_state() == before


def test_an_address_change_link_replayed_after_the_change_changes_nothing(client: Client) -> None:
    subscriber = _fresh_reader()
    change = _token(subscriber, Purpose.CHANGE_EMAIL)
    assert client.post(_link_url(Purpose.CHANGE_EMAIL, change), secure=True).status_code == 200
    subscriber.refresh_from_db()
    assert (subscriber.email, subscriber.pending_email) == ("new@example.org", "")
    before = stored_state()

    response = client.post(_link_url(Purpose.CHANGE_EMAIL, change), secure=True)

    assert response.status_code == 410
    assert stored_state() == before


def test_an_old_address_change_link_cannot_complete_a_newer_request(client: Client) -> None:
    subscriber = _fresh_reader()
    first = _token(subscriber, Purpose.CHANGE_EMAIL)  # sent to new@example.org
    Subscriber.objects.filter(pk=subscriber.pk).update(pending_email="newer@example.org")
    before = stored_state()

    response = client.post(_link_url(Purpose.CHANGE_EMAIL, first), secure=True)

    assert response.status_code == 410
    assert stored_state() == before


def test_links_replayed_after_the_reader_deleted_everything_find_nothing(client: Client) -> None:
    subscriber = _fresh_reader()
    tokens = {purpose: _token(subscriber, purpose) for purpose in Purpose}
    manage = tokens[Purpose.MANAGE]
    assert client.post(_link_url(Purpose.MANAGE, manage, "delete/"), secure=True).status_code == 200
    # The same address signs up again: a new row, which the old links must not reach.
    SubscriberFactory.create(email="reader@example.org")
    before = stored_state()

    for (purpose, suffix, data), name in zip(ACTIONS, ACTION_IDS, strict=True):
        response = client.post(_link_url(purpose, tokens[purpose], suffix), data, secure=True)
        assert response.status_code == 410, (name, response.status_code)
    assert stored_state() == before


# --- Replayed webhooks ----------------------------------------------------------------------------


def _soft_bounce(n: int) -> dict[str, Any]:
    """Postmark's "SoftBounce" record (mailbox full), the n-th, for its own message."""
    return {
        "RecordType": "Bounce",
        "ID": 903000000 + n,
        "Type": "SoftBounce",
        "TypeCode": 4096,
        "MessageID": f"5c2e7a10-0000-4000-8000-{n:012d}",
        "Email": "reader@example.org",
        "BouncedAt": "2025-11-20T09:00:00Z",
        "Inactive": False,
    }


@FUZZ
@given(deliveries=st.lists(st.integers(1, 4), min_size=1, max_size=12))
def test_replayed_webhooks_act_once_per_event_whatever_the_order(
    client: Client, settings: Any, deliveries: list[int]
) -> None:
    """A provider retries, and an attacker may replay a captured request: each event counts once."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    Subscriber.objects.all().delete()
    WebhookEvent.objects.all().delete()
    reader = SubscriberFactory.create(email="reader@example.org", soft_bounces=0)

    for n in deliveries:
        body = json.dumps(_soft_bounce(n))
        response = client.post(
            "/anymail/postmark/tracking/",
            body,
            content_type="application/json",
            secure=True,
            **basic_auth(WEBHOOK_SECRET),
        )
        assert response.status_code == 200

    distinct = len(set(deliveries))
    reader.refresh_from_db()
    assert WebhookEvent.objects.count() == distinct
    assert reader.soft_bounces == distinct
    assert reader.status == (Status.BOUNCED if distinct >= 3 else Status.ACTIVE)
