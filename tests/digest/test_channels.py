"""Team channels: each platform's message, the Standard Webhooks signature, what each answer
means, the channel's failures and pauses, and the refusal of private addresses at send."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import socket
from typing import Any

import pytest
import requests
import responses
import time_machine
import urllib3.util.connection
from standardwebhooks import Webhook

from digest import ledger
from digest.channels import (
    ChannelFields,
    ChannelTransport,
    ChannelURLError,
    channel_create,
    channel_resume,
    channel_url_check,
)
from digest.channels.http import MAX_ANSWER_BYTES, PinnedAdapter, safe_post
from digest.channels.messages import discord_message, slack_message, webhook_signature
from digest.channels.transport import MAX_RETRY_AFTER, retry_after_seconds
from digest.ledger import Claimed
from digest.models import Channel
from digest.transport import (
    ChannelTarget,
    CodeNotice,
    DigestItem,
    OutgoingDigest,
    transport_for_via,
)
from subscriptions.models import Subscriber
from subscriptions.services import Preferences

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/abcDEF123"
DISCORD_URL = "https://discord.com/api/webhooks/1234567/tok_EN-1"
WEBHOOK_URL = "https://hooks.example.org/paperboy"
ISSUE_URL = "https://paperboy.example/digest/2026-01-14/daily/"
# A fixed secret: the signature below is computed from it independently of the code under test.
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
DISCORD_MESSAGE = {
    "id": "1312345678901234567",
    "type": 0,
    "content": "",
    "channel_id": "1100000000000000000",
    "webhook_id": "1234567",
    "embeds": [],
}


def _channel(kind: str, url: str, name: str = "ML team") -> Channel:
    return channel_create(
        fields=ChannelFields(name=name, kind=kind, url=url), preferences=Preferences()
    )


def _item(n: int, **fields: str) -> DigestItem:
    values = {
        "arxiv_id": f"2601.{n:05d}",
        "title": f"Sparse attention at scale, part {n}",
        "url": f"https://paperboy.example/papers/2601.{n:05d}/",
        "authors": "Ada Lovelace, Alan Turing et al.",
        "summary": "We make attention sparse. It is faster. " * 3,
        "reason": "Because you follow sparse attention",
        **fields,
    }
    return DigestItem(**values)


NOTICE = CodeNotice(
    arxiv_id="2512.00001",
    title="Video diffusion transformers",
    url="https://paperboy.example/papers/2512.00001/",
    repo="https://github.com/example/vdt",
    stars=1234,
)


def _digest(
    channel: Channel,
    *,
    items: list[DigestItem] | None = None,
    notices: tuple[CodeNotice, ...] = (NOTICE,),
    delivery_id: int = 1,
    attempts: int = 1,
    heading: str = "Paperboy daily, 14 January 2026",
) -> OutgoingDigest:
    items = items if items is not None else [_item(1), _item(2), _item(3)]
    return OutgoingDigest(
        claimed=Claimed(delivery_id, channel.subscriber_id, attempts),
        to="",
        parts=None,
        picks=tuple(i.arxiv_id for i in items),
        unsubscribe_url="",
        idempotency_key=f"{delivery_id:04d}9f2c1e",
        via="channel",
        reasons=tuple(i.reason for i in items),
        notices=notices,
        items=tuple(items),
        heading=heading,
        issue_url=ISSUE_URL,
        channel=ChannelTarget(
            kind=channel.kind, name=channel.name, url=channel.url, secret=channel.secret
        ),
    )


def _sent_json(call: Any) -> dict[str, Any]:
    return json.loads(call.request.body)


def _reloaded(channel: Channel) -> Channel:
    return Channel.objects.select_related("subscriber").get(pk=channel.pk)


# --- Slack -----------------------------------------------------------------------------------


@responses.activate
def test_it_posts_block_kit_to_slack_and_records_the_success(channel_dns: dict[str, str]) -> None:
    channel = _channel("slack", SLACK_URL)
    Channel.objects.filter(pk=channel.pk).update(failures=2)
    responses.post(SLACK_URL, body="ok", content_type="text/plain")
    digest = _digest(channel)

    handover = ChannelTransport(None).send(issue_id=7, digests=[digest])

    assert [o.status for o in handover.outcomes] == ["sent"]
    assert handover.outcomes[0].papers == digest.picks
    assert handover.outcomes[0].notices == ("2512.00001",)
    assert handover.transient_error is None
    request = responses.calls[0].request
    assert request.headers["Idempotency-Key"] == digest.idempotency_key
    message = _sent_json(responses.calls[0])
    blocks = message["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Paperboy daily, 14 January 2026"},
    }
    first = blocks[1]["text"]["text"]
    assert first.startswith(
        "*<https://paperboy.example/papers/2601.00001/|Sparse attention at scale, part 1>*\n"
        "Ada Lovelace, Alan Turing et al.\nWe make attention sparse."
    )
    assert blocks[2] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "Because you follow sparse attention"}],
    }
    notice = blocks[-2]["text"]["text"]
    assert notice.startswith("*Since you read it*\n<https://paperboy.example/papers/2512.00001/|")
    assert "code is now available" in notice
    assert "<https://github.com/example/vdt|github.com/example/vdt> ★ 1,234" in notice
    assert f"<{ISSUE_URL}|Read this issue on Paperboy>" in blocks[-1]["elements"][0]["text"]
    assert message["text"].startswith("Paperboy daily, 14 January 2026\n• Sparse attention")
    saved = _reloaded(channel)
    assert saved.failures == 0
    assert saved.last_sent_at is not None


def test_slack_text_escapes_its_control_characters_and_stays_in_its_limits(
    channel_dns: dict[str, str],
) -> None:
    channel = _channel("slack", SLACK_URL)
    long = "Q&A <b>bold</b> " * 400
    items = [_item(n, title=long, summary=long, authors=long, reason=long) for n in range(20)]
    message = slack_message(
        _digest(channel, items=items, notices=(NOTICE,) * 3, heading="R&D <weekly> " * 30)
    )

    blocks = message["blocks"]
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    assert blocks[0]["text"]["text"].startswith("R&amp;D &lt;weekly&gt; ")
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            assert "<b>" not in block["text"]["text"]
    assert "Q&amp;A &lt;b&gt;bold&lt;/b&gt;" in blocks[1]["text"]["text"]
    assert "&amp;amp;" not in json.dumps(message)
    assert len(message["text"]) <= 3000


def test_slack_tells_how_many_papers_did_not_fit(channel_dns: dict[str, str]) -> None:
    channel = _channel("slack", SLACK_URL)
    items = [_item(n) for n in range(30)]  # more than an admin allows, as a worst case
    blocks = slack_message(_digest(channel, items=items))["blocks"]

    assert len(blocks) == 50
    assert blocks[-3]["elements"][0]["text"].startswith("7 more on <")


# --- Discord ---------------------------------------------------------------------------------


@responses.activate
def test_it_posts_discord_embeds_and_keeps_the_message_id(channel_dns: dict[str, str]) -> None:
    channel = _channel("discord", DISCORD_URL)
    responses.post(DISCORD_URL + "?wait=true", json=DISCORD_MESSAGE)
    digest = _digest(channel, items=[_item(1, title="Fast *and* _sparse_")])

    handover = ChannelTransport(None).send(issue_id=7, digests=[digest])

    assert [(o.status, o.message_id) for o in handover.outcomes] == [
        ("sent", "1312345678901234567")
    ]
    call = responses.calls[0]
    assert call.request.url == DISCORD_URL + "?wait=true"
    assert call.request.headers["Idempotency-Key"] == digest.idempotency_key
    message = _sent_json(call)
    assert message["allowed_mentions"] == {"parse": []}
    assert message["content"].startswith("**Paperboy daily, 14 January 2026**")
    paper, notices = message["embeds"]
    assert paper["title"] == "Fast *and* _sparse_"
    assert paper["url"] == "https://paperboy.example/papers/2601.00001/"
    assert "*Because you follow sparse attention*" in paper["description"]
    assert notices["title"] == "Since you read it"
    assert "code is now available" in notices["description"]
    assert notices["footer"] == {"text": f"id {digest.idempotency_key}"}


def test_discord_messages_keep_to_discords_limits(channel_dns: dict[str, str]) -> None:
    channel = _channel("discord", DISCORD_URL)
    long = "word " * 2000
    items = [_item(n, title=long, summary=long, reason=long) for n in range(20)]
    message = discord_message(_digest(channel, items=items, heading=long))

    embeds = message["embeds"]
    assert len(embeds) == 10
    assert embeds[-2]["title"] == "12 more papers"
    assert len(message["content"]) <= 2000
    assert all(len(e["title"]) <= 256 and len(e["description"]) <= 4096 for e in embeds)
    total = sum(
        len(e["title"]) + len(e["description"]) + len(e.get("footer", {}).get("text", ""))
        for e in embeds
    )
    assert total <= 6000


# --- Signed webhook --------------------------------------------------------------------------


@responses.activate
@time_machine.travel(dt.datetime(2026, 1, 14, 8, 0, 5, tzinfo=dt.UTC), tick=False)
def test_it_signs_a_standard_webhook_byte_for_byte(channel_dns: dict[str, str]) -> None:
    channel = _channel("webhook", WEBHOOK_URL)
    Channel.objects.filter(pk=channel.pk).update(secret=SECRET)
    channel.refresh_from_db()
    responses.post(WEBHOOK_URL, status=204)
    digest = _digest(channel)

    handover = ChannelTransport(None).send(issue_id=7, digests=[digest])

    assert [o.status for o in handover.outcomes] == ["sent"]
    request = responses.calls[0].request
    body = request.body
    assert isinstance(body, bytes)
    headers = request.headers
    timestamp = 1768377605
    assert headers["webhook-id"] == digest.idempotency_key
    assert headers["webhook-timestamp"] == str(timestamp)
    key = bytes(range(32))
    expected = hmac.new(
        key, f"{digest.idempotency_key}.{timestamp}.".encode() + body, hashlib.sha256
    ).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    verified = Webhook(SECRET).verify(
        body,
        {n: str(headers[n]) for n in ("webhook-id", "webhook-timestamp", "webhook-signature")},
    )
    assert verified["type"] == "digest.issue"
    assert verified["timestamp"] == "2026-01-14T08:00:05Z"
    assert verified["id"] == digest.idempotency_key
    data = verified["data"]
    assert data["issue"] == 7
    assert data["heading"] == "Paperboy daily, 14 January 2026"
    assert data["issue_url"] == ISSUE_URL
    assert [p["arxiv_id"] for p in data["papers"]] == list(digest.picks)
    assert data["papers"][0]["reason"] == "Because you follow sparse attention"
    assert data["code_out"] == [
        {
            "arxiv_id": "2512.00001",
            "title": "Video diffusion transformers",
            "url": "https://paperboy.example/papers/2512.00001/",
            "repo": "https://github.com/example/vdt",
            "stars": 1234,
        }
    ]


def test_the_signature_matches_the_specs_worked_example() -> None:
    # The same inputs through Python's hmac, by hand: id.timestamp.body under the decoded key.
    body = b'{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{}}'
    by_hand = base64.b64encode(
        hmac.new(
            bytes(range(32)), b"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W.1674087231." + body, "sha256"
        ).digest()
    ).decode()

    signature = webhook_signature(
        secret=SECRET, msg_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", timestamp=1674087231, body=body
    )

    assert signature == f"v1,{by_hand}"


def test_a_new_webhook_channel_gets_a_secret_of_32_random_bytes() -> None:
    first = _channel("webhook", WEBHOOK_URL, name="one")
    second = _channel("webhook", WEBHOOK_URL, name="two")

    assert first.secret.startswith("whsec_")
    assert len(base64.b64decode(first.secret.removeprefix("whsec_"))) == 32
    assert first.secret != second.secret
    assert _channel("slack", SLACK_URL).secret == ""
    reader = Subscriber.objects.get(pk=first.pk)
    assert (reader.via, reader.email, reader.status) == ("channel", "", "active")
    assert reader.confirmed_at is not None


# --- What each answer means ------------------------------------------------------------------


@responses.activate
def test_a_429_leaves_the_digest_unsent_with_the_wait_it_asked_for(
    channel_dns: dict[str, str],
) -> None:
    channel = _channel("slack", SLACK_URL)
    responses.post(SLACK_URL, status=429, body="rate_limited", headers={"Retry-After": "30"})
    digest = _digest(channel)

    handover = ChannelTransport(None).send(issue_id=7, digests=[digest])

    assert handover.outcomes == []
    assert list(handover.unsent) == [digest]
    assert handover.retry_after == 30
    assert handover.transient_error == "channel trouble: ML team: HTTP 429: rate limited"
    saved = _reloaded(channel)
    assert (saved.failures, saved.last_error) == (0, "HTTP 429: rate limited")


@responses.activate
def test_discords_429_without_a_header_is_read_from_its_body(channel_dns: dict[str, str]) -> None:
    channel = _channel("discord", DISCORD_URL)
    responses.post(
        DISCORD_URL + "?wait=true",
        status=429,
        json={"message": "You are being rate limited.", "retry_after": 1.5, "global": False},
    )

    handover = ChannelTransport(None).send(issue_id=7, digests=[_digest(channel)])

    assert handover.retry_after == 1.5


def test_retry_after_reads_seconds_or_an_http_date_and_is_capped() -> None:
    now = dt.datetime(2026, 1, 14, 8, 0, tzinfo=dt.UTC).timestamp()

    assert retry_after_seconds("12", now=now) == 12
    assert retry_after_seconds("Wed, 14 Jan 2026 08:02:00 GMT", now=now) == 120
    assert retry_after_seconds("Wed, 14 Jan 2026 07:00:00 GMT", now=now) == 0
    assert retry_after_seconds("86400", now=now) == MAX_RETRY_AFTER
    assert retry_after_seconds("soon", now=now) is None
    assert retry_after_seconds("nan", now=now) is None
    assert retry_after_seconds(None, now=now) is None


@responses.activate
def test_one_endpoints_trouble_does_not_hold_back_another(channel_dns: dict[str, str]) -> None:
    down = _channel("slack", SLACK_URL, name="down")
    up = _channel("discord", DISCORD_URL, name="up")
    responses.post(SLACK_URL, status=503, body="<html>busy</html>")
    responses.post(DISCORD_URL + "?wait=true", json=DISCORD_MESSAGE)
    first, second = _digest(down, delivery_id=1), _digest(up, delivery_id=2)

    handover = ChannelTransport(None).send(issue_id=7, digests=[first, second])

    assert [(o.delivery_id, o.status) for o in handover.outcomes] == [(2, "sent")]
    assert list(handover.unsent) == [first]
    assert handover.transient_error == "channel trouble: down: HTTP 503"
    assert handover.retry_after is None


@pytest.mark.parametrize("status", [404, 410])
@responses.activate
def test_a_deleted_webhook_fails_and_pauses_the_channel_at_once(
    channel_dns: dict[str, str], status: int
) -> None:
    channel = _channel("discord", DISCORD_URL)
    responses.post(
        DISCORD_URL + "?wait=true",
        status=status,
        json={"message": "Unknown Webhook", "code": 10015},
    )

    handover = ChannelTransport(None).send(issue_id=7, digests=[_digest(channel)])

    error = f"the endpoint answered {status}: the webhook was probably deleted"
    assert [(o.status, o.error) for o in handover.outcomes] == [("failed", error)]
    saved = _reloaded(channel)
    assert saved.paused_at is not None
    assert saved.pause_reason == error
    assert saved.subscriber.status == Subscriber.Status.PAUSED


@responses.activate
def test_a_redirect_is_not_followed(channel_dns: dict[str, str]) -> None:
    channel = _channel("webhook", WEBHOOK_URL)
    responses.post(WEBHOOK_URL, status=301, headers={"Location": "https://169.254.169.254/"})

    handover = ChannelTransport(None).send(issue_id=7, digests=[_digest(channel)])

    assert [(o.status, o.error) for o in handover.outcomes] == [
        ("failed", "HTTP 301: redirects are not followed")
    ]
    assert len(responses.calls) == 1
    assert _reloaded(channel).failures == 1


@responses.activate
def test_a_refusal_fails_with_the_start_of_the_answer(channel_dns: dict[str, str]) -> None:
    channel = _channel("slack", SLACK_URL)
    responses.post(SLACK_URL, status=400, body="invalid_payload\n\x00\x01" + "x" * 5000)

    handover = ChannelTransport(None).send(issue_id=7, digests=[_digest(channel)])

    error = handover.outcomes[0].error
    assert error.startswith("HTTP 400: invalid_payload x")
    assert len(error) <= 210
    saved = _reloaded(channel)
    assert (saved.failures, saved.paused_at) == (1, None)


@responses.activate
def test_three_failed_deliveries_in_a_row_pause_the_channel(channel_dns: dict[str, str]) -> None:
    channel = _channel("slack", SLACK_URL)
    for status, body in [(403, "invalid_token"), (403, "invalid_token"), (200, "ok")]:
        responses.post(SLACK_URL, status=status, body=body)
    for status in (403, 403, 403):
        responses.post(SLACK_URL, status=status, body="invalid_token")
    transport = ChannelTransport(None)

    for delivery_id in range(1, 4):  # two failures, then a success: the count starts again
        transport.send(issue_id=delivery_id, digests=[_digest(channel, delivery_id=delivery_id)])
    assert _reloaded(channel).failures == 0
    for delivery_id in range(4, 6):
        transport.send(issue_id=delivery_id, digests=[_digest(channel, delivery_id=delivery_id)])
    assert _reloaded(channel).paused_at is None
    transport.send(issue_id=6, digests=[_digest(channel, delivery_id=6)])

    saved = _reloaded(channel)
    assert saved.failures == 3
    assert saved.pause_reason == "3 failed deliveries in a row; the last: HTTP 403: invalid_token"
    assert saved.subscriber.status == Subscriber.Status.PAUSED
    assert channel_resume(subscriber_id=channel.pk)
    saved = _reloaded(channel)
    assert (saved.failures, saved.paused_at, saved.pause_reason) == (0, None, "")
    assert saved.subscriber.status == Subscriber.Status.ACTIVE


@responses.activate
def test_a_timeout_is_worth_a_retry(channel_dns: dict[str, str]) -> None:
    channel = _channel("webhook", WEBHOOK_URL)
    responses.post(WEBHOOK_URL, body=requests.ReadTimeout("read timed out"))
    digest = _digest(channel)

    handover = ChannelTransport(None).send(issue_id=7, digests=[digest])

    assert (handover.outcomes, list(handover.unsent)) == ([], [digest])
    assert handover.transient_error == "channel trouble: ML team: timed out"


@responses.activate
def test_trouble_on_the_last_attempt_counts_as_a_failed_delivery(
    channel_dns: dict[str, str],
) -> None:
    channel = _channel("webhook", WEBHOOK_URL)
    responses.post(WEBHOOK_URL, body=requests.ConnectionError("reset"))

    ChannelTransport(None).send(issue_id=7, digests=[_digest(channel, attempts=1)])
    assert _reloaded(channel).failures == 0
    ChannelTransport(None).send(
        issue_id=7, digests=[_digest(channel, attempts=ledger.MAX_ATTEMPTS)]
    )

    saved = _reloaded(channel)
    assert (saved.failures, saved.last_error) == (1, "network error (ConnectionError)")


@responses.activate
def test_a_huge_answer_is_read_no_further_than_64_kib(channel_dns: dict[str, str]) -> None:
    responses.post(WEBHOOK_URL, body=b"\xff\x00garbage" * 2_000_000)

    answer = safe_post(WEBHOOK_URL, body=b"{}", headers={})

    assert answer.status == 200
    assert len(answer.body) == MAX_ANSWER_BYTES


@responses.activate
def test_a_discord_answer_that_is_not_json_still_counts_as_sent(
    channel_dns: dict[str, str],
) -> None:
    channel = _channel("discord", DISCORD_URL)
    responses.post(DISCORD_URL + "?wait=true", body=b"\x00\xff not json")
    digest = _digest(channel)

    handover = ChannelTransport(None).send(issue_id=7, digests=[digest])

    assert [(o.status, o.message_id) for o in handover.outcomes] == [
        ("sent", digest.idempotency_key)
    ]


def test_a_digest_without_a_usable_target_fails_without_a_post(
    channel_dns: dict[str, str],
) -> None:
    channel = _channel("webhook", WEBHOOK_URL)
    unsigned = dataclasses.replace(
        _digest(channel), channel=ChannelTarget("webhook", "x", WEBHOOK_URL, secret="")
    )
    nowhere = dataclasses.replace(_digest(channel, delivery_id=2), channel=None)

    with responses.RequestsMock():  # any post would fail the test
        handover = ChannelTransport(None).send(issue_id=7, digests=[unsigned, nowhere])

    assert [o.error for o in handover.outcomes] == [
        "a signed webhook without a secret cannot be signed",
        "no channel to post to",
    ]


# --- Private addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::1",
        "100.64.0.1",
        "224.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
@responses.activate
def test_a_host_that_resolves_to_a_private_address_is_refused_and_paused(
    channel_dns: dict[str, str], address: str
) -> None:
    channel = _channel("webhook", WEBHOOK_URL)
    channel_dns["hooks.example.org"] = address  # re-pointed after the channel was saved

    handover = ChannelTransport(None).send(issue_id=7, digests=[_digest(channel)])

    assert len(responses.calls) == 0
    outcome = handover.outcomes[0]
    assert outcome.status == "failed"
    assert outcome.error.startswith("refused to post: hooks.example.org is not a public address")
    assert _reloaded(channel).paused_at is not None


@responses.activate
def test_a_name_that_does_not_resolve_is_worth_a_retry(channel_dns: dict[str, str]) -> None:
    channel = _channel("webhook", WEBHOOK_URL)
    del channel_dns["hooks.example.org"]

    handover = ChannelTransport(None).send(issue_id=7, digests=[_digest(channel)])

    assert (
        handover.transient_error == "channel trouble: ML team: hooks.example.org does not resolve"
    )
    assert _reloaded(channel).paused_at is None


@responses.activate
def test_only_the_hosts_an_operator_names_may_be_private(
    channel_dns: dict[str, str], settings: Any
) -> None:
    settings.PAPERBOY_CHANNEL_INTERNAL_HOSTS = ["relay.intranet.example"]
    channel_dns.update({"relay.intranet.example": "10.0.0.5", "other.intranet.example": "10.0.0.6"})
    relay = "https://relay.intranet.example/hook"
    responses.post(relay, status=204)

    assert channel_url_check(kind="webhook", url=relay) == relay
    assert safe_post(relay, body=b"{}", headers={}).status == 204
    with pytest.raises(ChannelURLError):
        channel_url_check(kind="webhook", url="https://other.intranet.example/hook")


def test_the_connection_goes_to_the_checked_address_under_the_hosts_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connected: list[tuple[str, int]] = []

    def create_connection(address: tuple[str, int], *args: object, **kwargs: object) -> Any:
        connected.append(address)
        return socket.socket()

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    adapter = PinnedAdapter("52.89.214.238")
    pool = adapter.poolmanager.connection_from_url(SLACK_URL)
    connection = pool._new_conn()

    sock = connection._new_conn()  # type: ignore[attr-defined]
    sock.close()

    assert connected == [("52.89.214.238", 443)]
    assert connection.host == "hooks.slack.com"  # the TLS name, SNI and Host header


def test_the_batch_hands_channel_digests_to_this_transport() -> None:
    assert isinstance(transport_for_via("channel"), ChannelTransport)


# --- The URL, checked at save ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("slack", SLACK_URL),
        ("discord", DISCORD_URL),
        ("discord", "https://discordapp.com/api/v10/webhooks/99/abc"),
        ("webhook", WEBHOOK_URL + "?team=ml"),
    ],
)
def test_platform_and_public_urls_pass(channel_dns: dict[str, str], kind: str, url: str) -> None:
    assert channel_url_check(kind=kind, url=f"  {url} ") == url


@pytest.mark.parametrize(
    ("kind", "url", "message"),
    [
        ("webhook", "http://hooks.example.org/x", "Use an https:// address"),
        ("webhook", "https://user:pw@hooks.example.org/x", "Leave the user name and password out"),
        ("webhook", "https://hooks.example.org:99999/", "This is not a valid web address."),
        ("webhook", "https://nowhere.example.org/", "nowhere.example.org does not resolve"),
        (
            "webhook",
            "https://internal.example.org/",
            "internal.example.org is not a public address",
        ),
        ("slack", "https://hooks.example.org/services/T0/B0/x", "posts to hooks.slack.com only"),
        ("slack", "https://hooks.slack.com/workflows/abc", "This is not a webhook address"),
        ("slack", SLACK_URL + "?x=1", "This is not a webhook address"),
        ("discord", "https://discord.com/channels/1/2", "This is not a webhook address"),
        ("discord", "https://discord.com:8443/api/webhooks/1/a", "posts to discord.com only"),
    ],
)
def test_refused_urls_say_why(
    channel_dns: dict[str, str], kind: str, url: str, message: str
) -> None:
    channel_dns["internal.example.org"] = "10.0.0.7"

    with pytest.raises(ChannelURLError) as refused:
        channel_url_check(kind=kind, url=url)

    assert message in str(refused.value)


@pytest.mark.parametrize("port", [0, 22, 25, 80, 1023])
def test_a_webhook_on_a_privileged_port_other_than_443_is_refused(
    channel_dns: Any, port: int
) -> None:
    with pytest.raises(ChannelURLError, match="port 443"):
        channel_url_check(kind=Channel.Kind.WEBHOOK, url=f"https://hooks.example.org:{port}/in")


@pytest.mark.parametrize("port", [443, 8443, 65535])
def test_a_webhook_on_443_or_an_unprivileged_port_is_accepted(channel_dns: Any, port: int) -> None:
    url = f"https://hooks.example.org:{port}/in"
    assert channel_url_check(kind=Channel.Kind.WEBHOOK, url=url) == url
