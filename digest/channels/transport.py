"""Posting a batch's channel digests: each to its own endpoint, with each platform's rules.

One endpoint's trouble is not another's: a transient failure (network, timeout, 429, 5xx)
leaves that digest unsent for the batch's retry and the others go on. What an endpoint answers
is recorded on its Channel (channel_result_record): failures in a row pause it, a success
resets them; an endpoint that is gone (404, 410) or refused (not public) is paused at once.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from digest import ledger
from digest.channels.http import Answer, safe_post
from digest.channels.messages import discord_message, slack_message, webhook_request
from digest.channels.services import channel_result_record
from digest.models import ChannelKind
from digest.transport import Handover, OutgoingDigest, Transport, outcome_failed, outcome_sent
from papers.sources.http import TransientFetchError, UnsafeURLError

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER = 600.0  # seconds: a 429 asking for longer is retried after this anyway
IDEMPOTENCY_HEADER = "Idempotency-Key"
GONE_STATUSES = (404, 410)


@dataclass(frozen=True)
class PostResult:
    """What came of one post: sent, transient (retry later), failed, or gone (failed and pause)."""

    state: str
    message_id: str = ""
    error: str = ""
    retry_after: float | None = None


SENT, TRANSIENT, FAILED, GONE = "sent", "transient", "failed", "gone"


class ChannelTransport(Transport):
    """Each digest posted to its team's Slack, Discord or signed webhook endpoint."""

    def send(self, *, issue_id: int, digests: Sequence[OutgoingDigest]) -> Handover:
        handover = Handover()
        unsent: list[OutgoingDigest] = []
        troubles: list[str] = []
        for digest in digests:
            result = digest_post(digest=digest, issue_id=issue_id)
            _result_record(digest, result)
            if result.state == SENT:
                handover.outcomes.append(outcome_sent(digest, result.message_id))
            elif result.state == TRANSIENT:
                unsent.append(digest)
                troubles.append(f"{_name(digest)}: {result.error}")
                if result.retry_after is not None:
                    handover.retry_after = max(handover.retry_after or 0.0, result.retry_after)
            else:
                handover.outcomes.append(outcome_failed(digest.claimed, result.error))
        if unsent:
            handover.transient_error = "channel trouble: " + "; ".join(troubles)[:400]
            handover.unsent = unsent
        return handover


def _name(digest: OutgoingDigest) -> str:
    return digest.channel.name if digest.channel else f"subscriber {digest.claimed.subscriber_id}"


def _result_record(digest: OutgoingDigest, result: PostResult) -> None:
    """The post's result on the channel: a transient one out of attempts counts as a failure."""
    last_try = digest.claimed.attempts >= ledger.MAX_ATTEMPTS
    channel_result_record(
        subscriber_id=digest.claimed.subscriber_id,
        sent=result.state == SENT,
        error=result.error,
        failed=result.state == FAILED or (result.state == TRANSIENT and last_try),
        pause=result.state == GONE,
    )
    log = logger.info if result.state == SENT else logger.warning
    log(
        "channel post",
        extra={
            "delivery": digest.claimed.delivery_id,
            "subscriber": digest.claimed.subscriber_id,
            "state": result.state,
            "error": result.error,
        },
    )


def digest_post(*, digest: OutgoingDigest, issue_id: int) -> PostResult:
    """Post one digest to its channel's endpoint, in the platform's format; what came of it."""
    channel = digest.channel
    if channel is None:
        return PostResult(FAILED, error="no channel to post to")
    headers = {IDEMPOTENCY_HEADER: digest.idempotency_key}
    url = channel.url
    if channel.kind == ChannelKind.SLACK:
        body = _json(slack_message(digest))
    elif channel.kind == ChannelKind.DISCORD:
        body = _json(discord_message(digest))
        # Discord then answers with the message (its id) or the error, instead of 204.
        url += ("&" if "?" in url else "?") + "wait=true"
    elif channel.kind == ChannelKind.WEBHOOK and channel.secret:
        signed = webhook_request(
            digest=digest, issue_id=issue_id, secret=channel.secret, timestamp=int(time.time())
        )
        body, headers = signed.body, {**headers, **signed.headers}
    elif channel.kind == ChannelKind.WEBHOOK:
        return PostResult(FAILED, error="a signed webhook without a secret cannot be signed")
    else:
        return PostResult(FAILED, error=f"no way to post to a {channel.kind!r} channel")
    try:
        answer = safe_post(url, body=body, headers=headers)
    except UnsafeURLError as error:
        # The URL will not become public by itself: stop posting there.
        return PostResult(GONE, error=f"refused to post: {str(error).rpartition(': ')[2]}")
    except TransientFetchError:
        return PostResult(TRANSIENT, error=f"{urlsplit(url).hostname} does not resolve")
    except requests.Timeout:
        return PostResult(TRANSIENT, error="timed out")
    except requests.RequestException as error:
        return PostResult(TRANSIENT, error=f"network error ({type(error).__name__})")
    return answer_read(answer, kind=channel.kind, key=digest.idempotency_key)


def _json(message: dict[str, object]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def answer_read(answer: Answer, *, kind: str, key: str) -> PostResult:
    """What an endpoint's answer means: sent, worth a retry, failed, or gone."""
    status = answer.status
    if 200 <= status < 300:
        return PostResult(SENT, message_id=_message_id(answer, kind=kind, key=key))
    if 300 <= status < 400:
        return PostResult(FAILED, error=f"HTTP {status}: redirects are not followed")
    if status in GONE_STATUSES:
        return PostResult(
            GONE, error=f"the endpoint answered {status}: the webhook was probably deleted"
        )
    if status == 429:
        return PostResult(
            TRANSIENT, error="HTTP 429: rate limited", retry_after=_retry_after(answer)
        )
    if 400 <= status < 500:
        return PostResult(FAILED, error=f"HTTP {status}: {_short_body(answer.body)}".rstrip(": "))
    if status >= 500:
        return PostResult(TRANSIENT, error=f"HTTP {status}", retry_after=_retry_after(answer))
    return PostResult(TRANSIENT, error=f"unexpected HTTP {status}")


def _message_id(answer: Answer, *, kind: str, key: str) -> str:
    """Discord's message id from its answer; for the others (no id in the answer) the key."""
    if kind != ChannelKind.DISCORD:
        return key
    try:
        message = json.loads(answer.body)
    except ValueError:
        return key
    found = message.get("id") if isinstance(message, dict) else None
    return str(found)[:255] if isinstance(found, str | int) else key


def _short_body(body: bytes) -> str:
    """The start of an error answer, printable and on one line (Slack says "invalid_payload")."""
    text = body[:2000].decode("utf-8", "replace")
    text = "".join(char if char.isprintable() else " " for char in text)
    return " ".join(text.split())[:200]


def _retry_after(answer: Answer) -> float | None:
    """A 429's or 503's Retry-After (seconds or an HTTP date), or Discord's JSON retry_after."""
    headers = {name.lower(): value for name, value in answer.headers.items()}
    seconds = retry_after_seconds(headers.get("retry-after"), now=time.time())
    if seconds is None:
        try:
            payload = json.loads(answer.body)
        except ValueError:
            return None
        if isinstance(payload, dict) and isinstance(payload.get("retry_after"), int | float):
            seconds = _capped(float(payload["retry_after"]))
    return seconds


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """A Retry-After header's wait in seconds, from 0 to MAX_RETRY_AFTER; None if unreadable."""
    if not value or not value.strip():
        return None
    try:
        return _capped(float(value.strip()))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return _capped(when.timestamp() - now)


def _capped(seconds: float) -> float | None:
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else None
