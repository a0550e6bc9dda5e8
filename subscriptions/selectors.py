"""Reads: who gets a digest, the subscriber behind a link, a subscriber's data for export."""

from __future__ import annotations

import hashlib
import re
from typing import Any, cast

from django.db.models import Count, QuerySet
from django.db.models.functions import Lower

from subscriptions.addresses import address_key
from subscriptions.models import Seed, Subscriber
from subscriptions.signals import export_collect
from subscriptions.tokens import Purpose, TokenError, fingerprint_matches, token_read

DELIVERABLE = (Subscriber.Status.ACTIVE,)
# Whose private feed answers: a reader who left, or whose address the provider suppressed, has none.
FEED_READABLE = (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED)
# What subscriber_feed_key_ensure makes (secrets.token_urlsafe): anything else is never looked up.
FEED_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")
# How long the reader a feed key opens is kept in the cache, so that a feed reader's poll costs no
# query: a new key, a new address or a deletion forgets it at once (services), any other change
# (an unsubscribe, a new digest) shows within this time.
FEED_LOOKUP_SECONDS = 30


def feed_lookup_cache_key(feed_key: str) -> str:
    """The cache key of what a feed key opens (hashed: the key itself is a secret)."""
    return "subscriptions:feed-reader:" + hashlib.sha256(feed_key.encode()).hexdigest()


def subscriber_list_deliverable() -> QuerySet[Subscriber]:
    """Subscribers who get digests: confirmed and active (never pending, paused or suppressed)."""
    return Subscriber.objects.filter(status__in=DELIVERABLE, confirmed_at__isnull=False)


def subscriber_find_by_email(*, email: str) -> Subscriber | None:
    """The subscriber with this address, whatever its spelling or case (by lower(email)'s index)."""
    if not email.strip():  # a team channel has no address: "" finds no one
        return None
    return (
        Subscriber.objects.alias(email_lower=Lower("email"))
        .filter(email_lower=address_key(email))
        .first()
    )


def subscriber_from_token(*, token: str, purpose: Purpose) -> Subscriber:
    """The subscriber a link was made for, or TokenError (bad, expired, or for an old address)."""
    claim = token_read(token=token, purpose=purpose)
    subscriber = Subscriber.objects.filter(pk=claim.subscriber_id).first()
    if subscriber is None:
        raise TokenError(
            "This link is no longer valid: there is no subscription behind it.", expired=True
        )
    # A change-email link is bound to the new address, every other link to the current one.
    address = subscriber.pending_email if purpose is Purpose.CHANGE_EMAIL else subscriber.email
    if not address or not fingerprint_matches(address, claim.fingerprint):
        raise TokenError(
            "This link is no longer valid: it was sent to another address.", expired=True
        )
    return subscriber


def subscriber_export(*, subscriber: Subscriber) -> dict[str, Any]:
    """Everything stored about a subscriber, as JSON-ready data ("download my data")."""

    def when(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "email": subscriber.email,
        "pending_email": subscriber.pending_email or None,
        "status": subscriber.status,
        "interests": subscriber.interests,
        "categories": list(subscriber.categories),
        "frequency": subscriber.frequency,
        "digest_size": subscriber.digest_size,
        "delivery_hour": subscriber.delivery_hour,
        "timezone": subscriber.timezone,
        "soft_bounces": subscriber.soft_bounces,
        "via": subscriber.via,
        "created_at": when(subscriber.created_at),
        "updated_at": when(subscriber.updated_at),
        "confirmed_at": when(subscriber.confirmed_at),
        "unsubscribed_at": when(subscriber.unsubscribed_at),
        "confirmation_sent_at": when(subscriber.confirmation_sent_at),
        "less_of": subscriber.less_of,
        "seeds": [
            {
                "arxiv_id": seed.arxiv_id,
                "title": seed.title,
                "abstract": seed.abstract,
                "origin": seed.origin,
                "source": seed.source,
                "status": seed.status,
                "created_at": when(seed.created_at),
            }
            for seed in subscriber.seeds.order_by("created_at", "pk")
        ],
        # What the apps built on this one store about the reader (the digest's votes and clicks).
        **{
            name: data
            for _receiver, (name, data) in cast(
                list[tuple[Any, tuple[str, Any]]],
                export_collect.send(sender=Subscriber, subscriber_id=subscriber.pk),
            )
        },
    }


def subscriber_timezones_in_use() -> list[str]:
    """The time zones subscribers actually have, sorted (not the 400-odd that zoneinfo knows)."""
    names = Subscriber.objects.order_by("timezone").values_list("timezone", flat=True).distinct()
    return list(names)


def subscriber_status_counts() -> list[tuple[str, str, int]]:
    """(status, label, count) for every status, in one query over all subscribers.

    Team channels are not counted: they are listed under Digest → Channels.
    """
    people = Subscriber.objects.exclude(via=Subscriber.Via.CHANNEL).order_by()
    found = dict(people.values_list("status").annotate(n=Count("pk")))
    return [(value, label, found.get(value, 0)) for value, label in Subscriber.Status.choices]


def seeds_for_reader(*, subscriber: Subscriber) -> list[Seed]:
    """The reader's seeds, oldest first: ids (ready, being fetched or missing), texts, look-ups."""
    return list(Seed.objects.filter(subscriber=subscriber).order_by("created_at", "pk"))
