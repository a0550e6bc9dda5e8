"""Team channels' writes: create and change one (its reader row with it), pause, resume, results.

A channel is a Subscriber row (via "channel", no address) that the pipeline ranks and records
like any reader, and a digest.Channel row that says where its digests go. Pausing sets both, so
nothing in the pipeline needs to know about channels.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.db import transaction
from django.utils import timezone

from digest.channels.http import channel_addresses
from digest.models import Channel, ChannelKind
from papers.sources.http import TransientFetchError, UnsafeURLError
from subscriptions.models import Subscriber, SubscriberStatus, SubscriberVia
from subscriptions.services import Preferences
from subscriptions.signals import interests_changed

logger = logging.getLogger(__name__)

# Failed deliveries in a row after which a channel is paused: its endpoint is not coming back
# by itself, and every further try is a failed delivery more.
MAX_FAILURES = 3
SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32
SLACK_HOSTS = ("hooks.slack.com",)
DISCORD_HOSTS = ("discord.com", "discordapp.com")
_SLACK_PATH = re.compile(r"/services/[A-Za-z0-9]+/[A-Za-z0-9]+/[A-Za-z0-9]+")
_DISCORD_PATH = re.compile(r"/api(/v[0-9]+)?/webhooks/[0-9]+/[A-Za-z0-9_-]+")
SLACK_EXAMPLE = "https://hooks.slack.com/services/T000/B000/XXXX"
DISCORD_EXAMPLE = "https://discord.com/api/webhooks/123/abc"


class ChannelURLError(ValueError):
    """A channel URL refused, with the reason in words an editor can act on."""


@dataclass(frozen=True)
class ChannelFields:
    """A channel's own settings, validated (see digest.admin.channels)."""

    name: str
    kind: str  # a ChannelKind
    url: str


HTTPS_PORT, MIN_UNPRIVILEGED_PORT, MAX_PORT = 443, 1024, 65535


def channel_secret_make() -> str:
    """A new Standard Webhooks signing secret: "whsec_" and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def channel_url_check(*, kind: str, url: str) -> str:
    """The URL, trimmed, if a channel of this kind may post to it; else ChannelURLError says why.

    https only, on a host whose every address is public; a Slack or Discord webhook's address
    on the platform's own host, with the shape the platform gives it.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ChannelURLError("This is not a valid web address.") from None
    if parts.scheme != "https" or not parts.hostname:
        raise ChannelURLError("Use an https:// address: Paperboy posts to no other kind.")
    # urlsplit silently drops tabs and line breaks: the host it checks would not be the text kept.
    if any(char.isspace() or not char.isprintable() for char in url):
        raise ChannelURLError(
            "This is not a valid web address: it has spaces or control characters."
        )
    if parts.username or parts.password:
        raise ChannelURLError("Leave the user name and password out of the address.")
    # 443, or an unprivileged port: a channel is no way to reach a host's SSH, SMTP or the like.
    if port is not None and port != HTTPS_PORT and not MIN_UNPRIVILEGED_PORT <= port <= MAX_PORT:
        raise ChannelURLError("Use port 443, or one from 1024 to 65535.")
    host = parts.hostname
    if kind == ChannelKind.SLACK:
        _platform_url_check(parts, port, hosts=SLACK_HOSTS, path=_SLACK_PATH, example=SLACK_EXAMPLE)
    elif kind == ChannelKind.DISCORD:
        _platform_url_check(
            parts, port, hosts=DISCORD_HOSTS, path=_DISCORD_PATH, example=DISCORD_EXAMPLE
        )
    try:
        channel_addresses(url)
    except UnsafeURLError:
        raise ChannelURLError(
            f"{host} is not a public address: Paperboy never posts into a private network."
        ) from None
    except TransientFetchError:
        raise ChannelURLError(f"{host} does not resolve: check the address.") from None
    return url


def _platform_url_check(
    parts: SplitResult,
    port: int | None,
    *,
    hosts: tuple[str, ...],
    path: re.Pattern[str],
    example: str,
) -> None:
    """Raise ChannelURLError unless the URL is the platform's webhook address, as it gives it."""
    if parts.hostname not in hosts or port not in (None, 443):
        raise ChannelURLError(f"This kind of channel posts to {hosts[0]} only, like {example}.")
    if not path.fullmatch(parts.path) or parts.query or parts.fragment:
        raise ChannelURLError(f"This is not a webhook address: it looks like {example}.")


def _preferences_apply(subscriber: Subscriber, preferences: Preferences) -> None:
    for name, value in dataclasses.asdict(preferences).items():
        setattr(subscriber, name, value)


@transaction.atomic
def channel_create(
    *, fields: ChannelFields, preferences: Preferences, now: dt.datetime | None = None
) -> Channel:
    """A new channel and its reader row, active at once; a signed webhook gets a new secret."""
    now = now or timezone.now()
    subscriber = Subscriber(
        email="", via=SubscriberVia.CHANNEL, status=SubscriberStatus.ACTIVE, confirmed_at=now
    )
    _preferences_apply(subscriber, preferences)
    subscriber.save()
    secret = channel_secret_make() if fields.kind == ChannelKind.WEBHOOK else ""
    channel = Channel.objects.create(
        subscriber=subscriber, name=fields.name, kind=fields.kind, url=fields.url, secret=secret
    )
    interests_changed.send(
        sender=Subscriber, interests=subscriber.interests, subscriber_id=subscriber.pk
    )
    logger.info("channel created", extra={"subscriber": subscriber.pk, "kind": fields.kind})
    return channel


@transaction.atomic
def channel_update(*, channel: Channel, fields: ChannelFields, preferences: Preferences) -> Channel:
    """Change a channel's name, URL and preferences (its kind and secret stay)."""
    subscriber = Subscriber.objects.select_for_update().get(pk=channel.subscriber_id)
    interests_before = subscriber.interests
    _preferences_apply(subscriber, preferences)
    subscriber.save()
    channel.name, channel.url = fields.name, fields.url
    channel.save(update_fields=["name", "url", "updated_at"])
    if subscriber.interests != interests_before:
        interests_changed.send(
            sender=Subscriber, interests=subscriber.interests, subscriber_id=subscriber.pk
        )
    return channel


@transaction.atomic
def channel_pause(*, subscriber_id: int, reason: str, now: dt.datetime | None = None) -> bool:
    """Stop posting to the channel (its reader is paused too); False if it was paused already."""
    now = now or timezone.now()
    reason = " ".join(reason.split())[:300] or "paused"
    changed = Channel.objects.filter(subscriber_id=subscriber_id, paused_at__isnull=True).update(
        paused_at=now, pause_reason=reason, updated_at=now
    )
    Subscriber.objects.filter(pk=subscriber_id, status=SubscriberStatus.ACTIVE).update(
        status=SubscriberStatus.PAUSED, updated_at=now
    )
    if changed:
        logger.warning("channel paused", extra={"subscriber": subscriber_id, "reason": reason})
    return bool(changed)


@transaction.atomic
def channel_resume(*, subscriber_id: int, now: dt.datetime | None = None) -> bool:
    """Post to the channel again, its failures forgotten; False if it was not paused."""
    now = now or timezone.now()
    changed = Channel.objects.filter(subscriber_id=subscriber_id, paused_at__isnull=False).update(
        paused_at=None, pause_reason="", failures=0, updated_at=now
    )
    Subscriber.objects.filter(pk=subscriber_id, status=SubscriberStatus.PAUSED).update(
        status=SubscriberStatus.ACTIVE, updated_at=now
    )
    return bool(changed)


@transaction.atomic
def channel_delete(*, channel: Channel) -> None:
    """Delete the channel with its reader row (and so its deliveries): no reader left behind."""
    Subscriber.objects.filter(pk=channel.subscriber_id, via=SubscriberVia.CHANNEL).delete()


def channel_result_record(
    *,
    subscriber_id: int,
    sent: bool,
    error: str = "",
    failed: bool = False,
    pause: bool = False,
    now: dt.datetime | None = None,
) -> None:
    """Record what came of a post: a success resets the failures, a failure counts.

    `failed`: the delivery failed (counted; the MAX_FAILURES-th in a row pauses the channel).
    `pause`: pause at once (the endpoint is gone or refused). Neither: trouble worth a retry,
    only remembered as the last error.
    """
    now = now or timezone.now()
    if sent:
        Channel.objects.filter(subscriber_id=subscriber_id).update(
            failures=0, last_sent_at=now, updated_at=now
        )
        return
    with transaction.atomic():
        channel = Channel.objects.select_for_update().filter(subscriber_id=subscriber_id).first()
        if channel is None:
            return
        channel.last_error = error[:500]
        channel.failures += 1 if failed or pause else 0
        channel.save(update_fields=["last_error", "failures", "updated_at"])
        if pause:
            channel_pause(subscriber_id=subscriber_id, reason=error, now=now)
        elif failed and channel.failures >= MAX_FAILURES:
            channel_pause(
                subscriber_id=subscriber_id,
                reason=f"{channel.failures} failed deliveries in a row; the last: {error}",
                now=now,
            )
