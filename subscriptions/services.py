"""Writes: sign up, confirm, change preferences or address, pause, unsubscribe, delete.

Anyone can type anyone's address into the sign-up form, so signing up never changes an
existing confirmed subscription and never says whether the address was known: it only
(re)sends the owner an email (the view decides how often: see ratelimit.signup_mail_claim).
A confirmed subscription gets one welcome email with its manage link. Everything else is
reached through a signed link from one of our emails (see subscriptions.tokens).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from papers.models import Paper
from papers.services import papers_fetch_arxiv, papers_fetch_arxiv_author
from papers.sources.http import TransientFetchError

# tasks imports this module as well: each uses the other's functions only when called, never while
# loading, so either may be imported first.
from subscriptions import tasks
from subscriptions.addresses import AddressError, address_key, address_normalize
from subscriptions.emails import email_build, site_url
from subscriptions.models import (
    ARXIV_CATEGORIES,
    DELIVERY_HOUR_DEFAULT,
    DIGEST_SIZE_DEFAULT,
    LESS_OF_MAX_CHARS,
    Seed,
    Subscriber,
    SubscriptionStat,
    WebhookEvent,
    feed_key_new,
)
from subscriptions.schedule import day_label, first_digest_at
from subscriptions.seeds import SEEDS_MAX, TITLE_MAX_CHARS, SeedError, SeedInput, author_parse
from subscriptions.selectors import feed_lookup_cache_key
from subscriptions.signals import interests_changed, reader_signals_changed
from subscriptions.tokens import Purpose, token_make

if TYPE_CHECKING:
    from celery import Task

logger = logging.getLogger(__name__)

RESEND_INTERVAL = dt.timedelta(hours=1)  # the admin's "resend confirmation"
# Sign-ups are spaced by the view (ratelimit.signup_mail_claim, every few minutes); this only keeps
# one message delivered twice in a row by the broker, or a double submit the cache missed, from
# mailing twice.
SIGNUP_RESEND_GUARD = dt.timedelta(minutes=1)
Status = Subscriber.Status
Action = WebhookEvent.Action
# Signing up again re-opens these: the reader goes back through confirmation. That includes
# addresses suppressed by the provider's webhooks (bounced, complained): a sign-up is the reader
# asking for mail again, so they get that one confirmation (at most one an hour), and nothing
# else until they confirm (tests/subscriptions/test_webhooks.py).
_REOPENED = (Status.PENDING, Status.UNSUBSCRIBED, Status.BOUNCED, Status.COMPLAINED)


class SubscriptionError(Exception):
    """A request that cannot be carried out, with a message for the reader."""


@dataclass(frozen=True)
class Preferences:
    """What a reader wants, already validated and cleaned (see subscriptions.forms)."""

    interests: str = ""
    categories: list[str] = field(default_factory=list)
    frequency: str = Subscriber.Frequency.DAILY
    digest_size: int = DIGEST_SIZE_DEFAULT
    delivery_hour: int = DELIVERY_HOUR_DEFAULT
    timezone: str = "UTC"


def subscriber_link(*, subscriber: Subscriber, purpose: Purpose, address: str | None = None) -> str:
    """The absolute URL of a signed link for this subscriber (to its current address by default)."""
    token = token_make(
        subscriber_id=subscriber.pk, address=address or subscriber.email, purpose=purpose
    )
    return site_url(reverse(f"subscriptions:{purpose.value}", kwargs={"token": token}))


def _locked_by_email(email: str) -> Subscriber | None:
    if not email.strip():  # a team channel has no address: "" finds no one
        return None
    return (
        Subscriber.objects.select_for_update()
        .alias(email_lower=Lower("email"))
        .filter(email_lower=address_key(email))
        .first()
    )


def _send_claim(*, subscriber_id: int, now: dt.datetime, interval: dt.timedelta) -> bool:
    """Take the right to send this subscriber a sign-up email now: at most one per interval."""
    due = Q(confirmation_sent_at__isnull=True) | Q(confirmation_sent_at__lte=now - interval)
    return Subscriber.objects.filter(due, pk=subscriber_id).update(confirmation_sent_at=now) == 1


def _enqueue_after_commit(task: Task, subscriber_id: int) -> None:
    # robust: a broker that is down is logged, not turned into an error page after the
    # sign-up committed.
    transaction.on_commit(lambda: task.delay(subscriber_id), robust=True)


def subscriber_confirmation_resend(*, subscriber_id: int, now: dt.datetime) -> bool:
    """Mail a pending subscriber the confirmation again (after commit); False within the hour."""
    if not _send_claim(subscriber_id=subscriber_id, now=now, interval=RESEND_INTERVAL):
        return False
    _enqueue_after_commit(tasks.subscriber_signup_email_send_task, subscriber_id)
    return True


def subscriber_subscribe(
    *, email: str, preferences: Preferences, seeds: Sequence[str] = ()
) -> None:
    """Sign an address up (or up again): the same outcome for the caller, whatever its state.

    New, pending and unsubscribed or suppressed addresses (re)start as pending with these
    preferences (and these arXiv ids as seeds, as many as fit) and get a confirmation email; an
    active or paused subscription is left as it is and its owner gets a link to the manage page
    instead. The email goes out after commit, from the worker, so the response takes the same
    time either way. Raises AddressError for an address with no single spelling (the forms
    refuse those first).
    """
    email = address_normalize(email)
    now = timezone.now()
    with transaction.atomic():
        subscriber = _locked_by_email(email)
        if subscriber is None:
            try:
                with transaction.atomic():
                    subscriber = Subscriber.objects.create(email=email, **asdict(preferences))
            except IntegrityError:  # a concurrent sign-up for the same address got there first
                subscriber = _locked_by_email(email)
                assert subscriber is not None
            _signup_seeds_store(subscriber, seeds)
        elif subscriber.status in _REOPENED:
            for name, value in asdict(preferences).items():
                setattr(subscriber, name, value)
            subscriber.status = Status.PENDING
            subscriber.save()
            _signup_seeds_store(subscriber, seeds)
        if _send_claim(subscriber_id=subscriber.pk, now=now, interval=SIGNUP_RESEND_GUARD):
            _enqueue_after_commit(tasks.subscriber_signup_email_send_task, subscriber.pk)
        else:
            logger.info("sign-up email skipped: one went out a moment ago")
        interests_changed.send(
            sender=Subscriber, interests=subscriber.interests, subscriber_id=subscriber.pk
        )
    logger.info("sign-up", extra={"subscriber_id": subscriber.pk, "status": subscriber.status})


def subscriber_signup_email_send(*, subscriber_id: int) -> str | None:
    """Mail the answer to a sign-up for the subscriber's state now: confirmation or manage link."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        return None
    unsubscribe_url = subscriber_link(subscriber=subscriber, purpose=Purpose.UNSUBSCRIBE)
    context: dict[str, object] = {}
    if subscriber.status == Status.PENDING:
        name = "confirm"
        context["confirm_url"] = subscriber_link(subscriber=subscriber, purpose=Purpose.CONFIRM)
    elif subscriber.status in (Status.ACTIVE, Status.PAUSED):
        name = "manage_link"
        context["manage_url"] = subscriber_link(subscriber=subscriber, purpose=Purpose.MANAGE)
    else:  # unsubscribed or suppressed since the sign-up: mail nothing
        return None
    context["subscriber"] = subscriber
    email_build(
        name=name, to=subscriber.email, context=context, unsubscribe_url=unsubscribe_url
    ).send()
    logger.info("sign-up email sent", extra={"subscriber_id": subscriber.pk, "email_name": name})
    return name


def subscriber_confirm(*, subscriber: Subscriber) -> bool:
    """Confirm a pending subscription; False if not pending (already confirmed, or left since)."""
    now = timezone.now()
    confirmed = (
        Subscriber.objects.filter(pk=subscriber.pk, status=Status.PENDING).update(
            status=Status.ACTIVE,
            confirmed_at=now,
            unsubscribed_at=None,
            soft_bounces=0,
            updated_at=now,
        )
        == 1
    )
    subscriber.refresh_from_db()
    if confirmed:
        # Only the click that confirmed queues it: a second click, or a second tab, mails nothing.
        _enqueue_after_commit(tasks.subscriber_welcome_send_task, subscriber.pk)
        logger.info("subscriber confirmed", extra={"subscriber_id": subscriber.pk})
    return confirmed


def subscriber_welcome_send(*, subscriber_id: int) -> bool:
    """Mail a newly confirmed reader their manage link, what they chose and their first digest.

    False, and nothing sent, if the subscription is no longer active (paused or left since).
    """
    subscriber = Subscriber.objects.filter(pk=subscriber_id, status=Status.ACTIVE).first()
    if subscriber is None:
        return False
    manage_url = subscriber_link(subscriber=subscriber, purpose=Purpose.MANAGE)
    now = timezone.now()
    first = first_digest_at(
        now=now,
        delivery_hour=subscriber.delivery_hour,
        zone=subscriber.timezone,
        frequency=subscriber.frequency,
    )
    local_now = now.astimezone(first.tzinfo)
    # Times are formatted here: Django's date filter would show them in UTC.
    context = {
        "subscriber": subscriber,
        "manage_url": manage_url,
        "first_digest_day": day_label(moment=first, now=now),
        "first_digest_time": f"{first:%H:%M}",
        "hour_passed": first.date() == local_now.date()
        and local_now.hour >= subscriber.delivery_hour,
        "delivery_time": f"{subscriber.delivery_hour:02d}:00",
        "frequency": subscriber.get_frequency_display(),
        "categories": [
            f"{code} ({ARXIV_CATEGORIES.get(code, code)})" for code in subscriber.categories
        ],
        "seeds_count": Seed.objects.filter(subscriber=subscriber).count(),
    }
    email_build(
        name="welcome",
        to=subscriber.email,
        context=context,
        unsubscribe_url=subscriber_link(subscriber=subscriber, purpose=Purpose.UNSUBSCRIBE),
    ).send()
    logger.info("welcome email sent", extra={"subscriber_id": subscriber.pk})
    return True


def subscriber_update(*, subscriber: Subscriber, preferences: Preferences) -> Subscriber:
    """Save new preferences (from the manage page)."""
    for name, value in asdict(preferences).items():
        setattr(subscriber, name, value)
    subscriber.save(update_fields=[*asdict(preferences), "updated_at"])
    interests_changed.send(
        sender=Subscriber, interests=subscriber.interests, subscriber_id=subscriber.pk
    )
    return subscriber


def _transition(
    subscriber: Subscriber, *, from_: tuple[str, ...], to: str, **fields: object
) -> bool:
    now = timezone.now()
    changed = Subscriber.objects.filter(pk=subscriber.pk, status__in=from_).update(
        status=to, updated_at=now, **fields
    )
    subscriber.refresh_from_db()
    return changed == 1


def subscriber_pause(*, subscriber: Subscriber) -> bool:
    """Stop digests for now, keeping everything else; False if the subscription was not active."""
    return _transition(subscriber, from_=(Status.ACTIVE,), to=Status.PAUSED)


def subscriber_resume(*, subscriber: Subscriber) -> bool:
    """Start digests again after a pause; False if the subscription was not paused."""
    return _transition(subscriber, from_=(Status.PAUSED,), to=Status.ACTIVE)


# What a reader may choose on the manage page; a team channel is set up by an editor only.
VIA_CHOICES = (Subscriber.Via.EMAIL, Subscriber.Via.FEED)


def subscriber_feed_key_ensure(*, subscriber: Subscriber) -> str:
    """The reader's private feed key, made now if they have none yet."""
    if subscriber.feed_key:
        return subscriber.feed_key
    key = feed_key_new()
    # Only where none is set: two first views at once keep one key, the one stored first.
    # updated_at stays: the reader changed nothing, their first view of the page made the key.
    Subscriber.objects.filter(pk=subscriber.pk, feed_key="").update(feed_key=key)
    subscriber.refresh_from_db(fields=["feed_key"])
    return subscriber.feed_key


def _feed_lookups_forget(*feed_keys: str) -> None:
    """Forget what these feed keys opened: the next poll looks the key up again."""
    cache.delete_many([feed_lookup_cache_key(key) for key in feed_keys if key])


def subscriber_feed_key_rotate(*, subscriber: Subscriber) -> str:
    """A new private feed key: the old feed address stops working at once."""
    _feed_lookups_forget(subscriber.feed_key)
    subscriber.feed_key = feed_key_new()
    subscriber.save(update_fields=["feed_key", "updated_at"])
    logger.info("subscriber feed key rotated", extra={"subscriber_id": subscriber.pk})
    return subscriber.feed_key


def subscriber_via_set(*, subscriber: Subscriber, via: str) -> bool:
    """Email, or the private feed only; False if nothing changed (already so, or a channel)."""
    if via not in VIA_CHOICES:
        raise SubscriptionError(f"A reader cannot choose to get their digests by {via!r}.")
    changed = (
        Subscriber.objects.filter(pk=subscriber.pk, via__in=VIA_CHOICES)
        .exclude(via=via)
        .update(via=via, updated_at=timezone.now())
    )
    subscriber.refresh_from_db(fields=["via", "updated_at"])
    if changed:
        logger.info("subscriber via changed", extra={"subscriber_id": subscriber.pk, "via": via})
    return changed == 1


def subscriber_unsubscribe(*, subscriber: Subscriber) -> bool:
    """Unsubscribe at once; False if nothing to stop (already unsubscribed or suppressed)."""
    changed = _transition(
        subscriber,
        from_=(Status.PENDING, Status.ACTIVE, Status.PAUSED),
        to=Status.UNSUBSCRIBED,
        unsubscribed_at=timezone.now(),
    )
    if changed:
        logger.info("subscriber unsubscribed", extra={"subscriber_id": subscriber.pk})
    return changed


def subscriber_email_change_request(*, subscriber: Subscriber, new_email: str) -> None:
    """Store a new address, mail it a link; the old one stays in use until the new is confirmed."""
    new_email = address_normalize(new_email)
    if address_key(new_email) == address_key(subscriber.email):
        subscriber.pending_email = ""
    else:
        subscriber.pending_email = new_email
        _enqueue_after_commit(tasks.subscriber_email_change_send_task, subscriber.pk)
    subscriber.save(update_fields=["pending_email", "updated_at"])


def subscriber_email_change_send(*, subscriber_id: int) -> bool:
    """Mail the pending new address its confirmation link; False if there is none any more."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).exclude(pending_email="").first()
    if subscriber is None:
        return False
    address = subscriber.pending_email
    link = subscriber_link(subscriber=subscriber, purpose=Purpose.CHANGE_EMAIL, address=address)
    # No unsubscribe header: this address is not subscribed to anything (yet).
    email_build(
        name="change_email", to=address, context={"subscriber": subscriber, "change_url": link}
    ).send()
    return True


def subscriber_email_change_confirm(*, subscriber: Subscriber) -> None:
    """Make the pending address the subscription's, or SubscriptionError if it has its own."""
    new_email = subscriber.pending_email
    try:
        # A change asked for before addresses were normalized is stored in its one spelling too.
        spelling = address_normalize(new_email)
    except AddressError:
        spelling = new_email  # accepted back then; stored as it was asked for
    with transaction.atomic():
        other = _locked_by_email(new_email)
        if other is not None and other.pk != subscriber.pk:
            if other.status in (Status.ACTIVE, Status.PAUSED):
                raise SubscriptionError(
                    "That address already has its own subscription. Unsubscribe or delete it "
                    "(from a link in its emails), then confirm this change again."
                )
            # Its owner just proved they read it: an unconfirmed or ended subscription makes way.
            other.delete()
            _feed_lookups_forget(other.feed_key)
        Subscriber.objects.filter(pk=subscriber.pk, pending_email=new_email).update(
            email=spelling, pending_email="", updated_at=timezone.now()
        )
    # The feed's vote links are signed for the address.
    _feed_lookups_forget(subscriber.feed_key)
    subscriber.refresh_from_db()


def subscriber_delete(*, subscriber: Subscriber) -> None:
    """Erase the subscriber (address, preferences); only an anonymous count of deletions is kept."""
    with transaction.atomic():
        subscriber.delete()
        _feed_lookups_forget(subscriber.feed_key)
        stat, _ = SubscriptionStat.objects.get_or_create(
            day=timezone.now().date(), kind=SubscriptionStat.Kind.DELETED
        )
        SubscriptionStat.objects.filter(pk=stat.pk).update(count=F("count") + 1)
    logger.info("subscriber deleted")


# --- Suppression, from the email provider's tracking webhooks (see subscriptions.webhooks) --------

SOFT_BOUNCE_LIMIT = 3  # soft bounces in a row (no delivery in between) that suppress an address
# Statuses a hard bounce or a complaint may replace: a complaint also overrides an earlier bounce.
_BOUNCEABLE = (Status.PENDING, Status.ACTIVE, Status.PAUSED, Status.UNSUBSCRIBED)
_COMPLAINABLE = (*_BOUNCEABLE, Status.BOUNCED)


@dataclass(frozen=True)
class TrackingEvent:
    """The parts of an ESP's tracking event that matter here (built by subscriptions.webhooks)."""

    esp_name: str
    event_id: str
    event_type: str
    action: str  # a WebhookEvent.Action
    recipient: str
    message_id: str = ""
    occurred_at: dt.datetime | None = None


def subscriber_suppress(*, subscriber: Subscriber, status: str) -> bool:
    """Stop all mail to an address the provider says bounced or complained; False if no change."""
    from_ = _COMPLAINABLE if status == Status.COMPLAINED else _BOUNCEABLE
    changed = _transition(subscriber, from_=from_, to=status)
    if changed:
        logger.info(
            "subscriber suppressed", extra={"subscriber_id": subscriber.pk, "status": status}
        )
    return changed


def subscriber_soft_bounce(*, subscriber: Subscriber) -> bool:
    """Count a soft bounce; the SOFT_BOUNCE_LIMIT-th in a row suppresses the address (True then)."""
    Subscriber.objects.filter(pk=subscriber.pk).update(
        soft_bounces=F("soft_bounces") + 1, updated_at=timezone.now()
    )
    subscriber.refresh_from_db()
    if subscriber.soft_bounces < SOFT_BOUNCE_LIMIT:
        return False
    return subscriber_suppress(subscriber=subscriber, status=Status.BOUNCED)


def subscriber_delivered(*, subscriber: Subscriber) -> None:
    """A delivery ends a run of soft bounces."""
    Subscriber.objects.filter(pk=subscriber.pk, soft_bounces__gt=0).update(
        soft_bounces=0, updated_at=timezone.now()
    )


def _soft_bounce_counted(event: TrackingEvent, subscriber: Subscriber) -> bool:
    # A provider reports a "deferred" event for every retry of one message: count the message once.
    return bool(event.message_id) and (
        WebhookEvent.objects.filter(
            esp_name=event.esp_name,
            message_id=event.message_id,
            subscriber=subscriber,
            action=Action.SOFT_BOUNCE,
        ).exists()
    )


def _event_action_perform(event: TrackingEvent, subscriber: Subscriber) -> None:
    """Carry out the event's action on its subscriber: suppress, unsubscribe, count soft bounces."""
    if event.action == Action.HARD_BOUNCE:
        subscriber_suppress(subscriber=subscriber, status=Status.BOUNCED)
    elif event.action == Action.COMPLAINT:
        subscriber_suppress(subscriber=subscriber, status=Status.COMPLAINED)
    elif event.action == Action.UNSUBSCRIBE:
        subscriber_unsubscribe(subscriber=subscriber)
    elif event.action == Action.SOFT_BOUNCE:
        if not _soft_bounce_counted(event, subscriber):
            subscriber_soft_bounce(subscriber=subscriber)
    elif event.action == Action.DELIVERY:
        subscriber_delivered(subscriber=subscriber)


def tracking_event_record(*, event: TrackingEvent) -> bool:
    """Act on a provider's tracking event once: False if this event (provider + id) was seen before.

    The event's row is claimed in the same transaction as the change it makes, so a
    redelivery, even a concurrent one, finds the row and does nothing. Events for addresses
    we do not know are recorded (so they are not looked at twice) and otherwise ignored.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = WebhookEvent.objects.create(
                    esp_name=event.esp_name,
                    event_id=event.event_id,
                    event_type=event.event_type,
                    action=event.action,
                    message_id=event.message_id,
                    occurred_at=event.occurred_at,
                )
        except IntegrityError:
            logger.info(
                "webhook event already seen",
                extra={"esp": event.esp_name, "event_id": event.event_id},
            )
            return False
        subscriber = _locked_by_email(event.recipient) if event.recipient else None
        if subscriber is not None and event.action != Action.NONE:
            _event_action_perform(event, subscriber)
            record.subscriber = subscriber
            record.save(update_fields=["subscriber"])
    logger.info(
        "webhook event",
        extra={
            "esp": event.esp_name,
            "event_type": event.event_type,
            "subscriber_id": record.subscriber_id,
        },
    )
    return True


# --- Seeds: papers a reader gives as examples, and "less of this" --------------------------------


@dataclass(frozen=True)
class SeedsAdded:
    """What adding seeds did: rows added (ready at once or fetched by the worker), ids known."""

    added: int = 0
    already: int = 0  # the reader had given these before
    ready: int = 0  # of the added: their paper (or their text) is there already
    pending: int = 0  # of the added: arXiv ids the worker fetches


def _signals_changed(subscriber_id: int) -> None:
    # Inside the transaction: receivers act after commit (see subscriptions.signals).
    reader_signals_changed.send(sender=Subscriber, subscriber_id=subscriber_id)


def _locked_subscriber(subscriber_id: int) -> Subscriber:
    """The subscriber's row, locked: seed counts checked under it hold until commit."""
    return Subscriber.objects.select_for_update().get(pk=subscriber_id)


def _paper_titles(arxiv_ids: Sequence[str]) -> dict[str, str]:
    """The titles of the papers stored with these ids, cut to fit a seed's title."""
    rows = Paper.objects.filter(arxiv_id__in=list(arxiv_ids)).values_list("arxiv_id", "title")
    return {arxiv_id: title[:TITLE_MAX_CHARS] for arxiv_id, title in rows}


def _seed_key(arxiv_id: str, title: str) -> str:
    """What makes two seeds of a reader the same: the id, or a text seed's title in any case."""
    return f"id:{arxiv_id}" if arxiv_id else f"title:{title.casefold()}"


def _seed_rows(
    subscriber: Subscriber, inputs: Sequence[SeedInput], *, origin: str, source: str
) -> tuple[list[Seed], int]:
    """The new rows these inputs make, and how many the reader had already given."""
    stored = Seed.objects.filter(subscriber=subscriber).exclude(arxiv_id="", title="")
    known = {_seed_key(*row) for row in stored.values_list("arxiv_id", "title")}
    titles = _paper_titles([item.arxiv_id for item in inputs if item.arxiv_id])
    rows: list[Seed] = []
    already = 0
    for item in inputs:
        key = _seed_key(item.arxiv_id, item.title)
        if key in known:
            already += 1
            continue
        known.add(key)
        ready = not item.arxiv_id or item.arxiv_id in titles
        rows.append(
            Seed(
                subscriber=subscriber,
                arxiv_id=item.arxiv_id,
                title=titles.get(item.arxiv_id) or item.title[:TITLE_MAX_CHARS],
                abstract="" if item.arxiv_id else item.abstract,
                origin=origin,
                source=source,
                status=Seed.Status.READY if ready else Seed.Status.PENDING,
            )
        )
    return rows, already


def _seeds_store(subscriber: Subscriber, rows: list[Seed], *, already: int) -> SeedsAdded:
    """Insert the rows, announce them, and have the worker fetch the pending ones after commit."""
    Seed.objects.bulk_create(rows)
    pending = sum(row.status == Seed.Status.PENDING for row in rows)
    if rows:
        _signals_changed(subscriber.pk)
    if pending:
        _enqueue_after_commit(tasks.seeds_fetch_task, subscriber.pk)
    return SeedsAdded(added=len(rows), already=already, ready=len(rows) - pending, pending=pending)


def seeds_add(
    *, subscriber: Subscriber, inputs: Sequence[SeedInput], origin: str, source: str = ""
) -> SeedsAdded:
    """Add papers like these: known ids and text seeds are ready now, unknown ids fetched later.

    All or nothing: past SEEDS_MAX seeds in all, SeedError and nothing is stored.
    """
    if origin not in Seed.Origin.values:
        raise ValueError(f"unknown seed origin {origin!r}")
    with transaction.atomic():
        locked = _locked_subscriber(subscriber.pk)
        rows, already = _seed_rows(locked, inputs, origin=origin, source=source)
        count = Seed.objects.filter(subscriber=locked).count()
        if count + len(rows) > SEEDS_MAX:
            raise SeedError(
                f"You can keep at most {SEEDS_MAX} example papers: you have {count}, and these "
                f"would add {len(rows)}. Remove some first, or add fewer."
            )
        added = _seeds_store(locked, rows, already=already)
    logger.info("seeds added", extra={"subscriber_id": subscriber.pk, "seeds_added": added.added})
    return added


def _signup_seeds_store(subscriber: Subscriber, arxiv_ids: Sequence[str]) -> None:
    """The ids given at sign-up, as many as fit under the cap: a sign-up never fails on them."""
    if not arxiv_ids:
        return
    inputs = [SeedInput(arxiv_id=arxiv_id) for arxiv_id in arxiv_ids]
    rows, already = _seed_rows(subscriber, inputs, origin=Seed.Origin.ID, source="")
    room = max(SEEDS_MAX - Seed.objects.filter(subscriber=subscriber).count(), 0)
    _seeds_store(subscriber, rows[:room], already=already)


def seeds_lookup_author(*, subscriber: Subscriber, query: str) -> Seed:
    """Look up an author's (or ORCID iD's) recent papers in the worker; the row standing for it.

    SeedError for a query that is neither a name nor a valid ORCID iD, or a reader at the cap.
    """
    kind, value = author_parse(query)
    origin = Seed.Origin.ORCID if kind == "orcid" else Seed.Origin.AUTHOR
    with transaction.atomic():
        locked = _locked_subscriber(subscriber.pk)
        waiting = Seed.objects.filter(
            subscriber=locked, arxiv_id="", source=value, status=Seed.Status.PENDING
        ).first()
        if waiting is not None:  # asked twice before the worker answered: one look-up
            return waiting
        count = Seed.objects.filter(subscriber=locked).count()
        if count >= SEEDS_MAX:
            raise SeedError(
                f"You already have {SEEDS_MAX} example papers, the most you can keep: "
                "remove some first."
            )
        placeholder = Seed.objects.create(
            subscriber=locked, origin=origin, source=value, status=Seed.Status.PENDING
        )
        _enqueue_after_commit(tasks.seeds_fetch_task, locked.pk)
    logger.info("seed author look-up", extra={"subscriber_id": subscriber.pk, "origin": origin})
    return placeholder


def seed_remove(*, subscriber: Subscriber, seed_id: int) -> bool:
    """Remove one of the reader's seeds; False if it is not theirs (or gone already)."""
    with transaction.atomic():
        deleted, _ = Seed.objects.filter(pk=seed_id, subscriber=subscriber).delete()
        if deleted:
            _signals_changed(subscriber.pk)
    return bool(deleted)


def seeds_clear(*, subscriber: Subscriber) -> int:
    """Remove all of the reader's seeds; how many there were."""
    with transaction.atomic():
        deleted, _ = Seed.objects.filter(subscriber=subscriber).delete()
        if deleted:
            _signals_changed(subscriber.pk)
    return deleted


def subscriber_less_of_set(*, subscriber: Subscriber, text: str) -> Subscriber:
    """Store the reader's "less of this" text (already cleaned by the form); "" clears it."""
    text = " ".join(text.split())
    if len(text) > LESS_OF_MAX_CHARS:
        raise SubscriptionError(f"Keep it under {LESS_OF_MAX_CHARS} characters.")
    if text == subscriber.less_of:
        return subscriber
    with transaction.atomic():
        subscriber.less_of = text
        subscriber.save(update_fields=["less_of", "updated_at"])
        _signals_changed(subscriber.pk)
    return subscriber


# The worker's side: fetch pending ids, resolve author and ORCID look-ups.


def seeds_fetch(*, subscriber_id: int) -> int:
    """Fetch a reader's pending seeds from arXiv; how many became ready.

    Ids arXiv does not have, and authors with no papers found, become MISSING. Network trouble
    leaves them PENDING and raises TransientFetchError once everything was tried, so the task
    retries; the next seeds the reader adds try again too.
    """
    pending = list(Seed.objects.filter(subscriber_id=subscriber_id, status=Seed.Status.PENDING))
    transient: TransientFetchError | None = None
    readied = 0
    ids = [seed.arxiv_id for seed in pending if seed.arxiv_id]
    lookups = [seed for seed in pending if not seed.arxiv_id]
    if ids:
        try:
            readied += _seed_ids_fetch(subscriber_id, ids)
        except TransientFetchError as error:
            transient = error
    for placeholder in lookups:
        try:
            readied += _seed_lookup_resolve(placeholder)
        except TransientFetchError as error:
            transient = transient or error
    if transient is not None:
        raise transient
    return readied


def _seed_ids_fetch(subscriber_id: int, arxiv_ids: list[str]) -> int:
    """Fetch the ids not stored yet, then mark each pending seed ready or missing."""
    unknown = sorted(set(arxiv_ids) - set(_paper_titles(arxiv_ids)))
    if unknown:
        # A failed run (arXiv refused the request) is recorded on it; those ids end up missing.
        papers_fetch_arxiv(categories=[], ids=unknown)
    titles = _paper_titles(arxiv_ids)
    pending = Seed.objects.filter(
        subscriber_id=subscriber_id, status=Seed.Status.PENDING, arxiv_id__in=arxiv_ids
    )
    readied = 0
    with transaction.atomic():
        for seed in pending.filter(arxiv_id__in=list(titles)).select_for_update():
            seed.title, seed.status = titles[seed.arxiv_id], Seed.Status.READY
            seed.save(update_fields=["title", "status"])
            readied += 1
        missing = pending.exclude(arxiv_id__in=list(titles)).update(status=Seed.Status.MISSING)
        if readied:
            _signals_changed(subscriber_id)
    logger.info(
        "seeds fetched",
        extra={"subscriber_id": subscriber_id, "seeds_ready": readied, "seeds_missing": missing},
    )
    return readied


def _seed_lookup_resolve(placeholder: Seed) -> int:
    """Replace an author or ORCID look-up with the papers found, or mark it MISSING."""
    if placeholder.origin == Seed.Origin.ORCID:
        found = papers_fetch_arxiv_author(orcid=placeholder.source)
    else:
        found = papers_fetch_arxiv_author(name=placeholder.source)
    with transaction.atomic():
        locked = _locked_subscriber(placeholder.subscriber_id)
        if not Seed.objects.filter(pk=placeholder.pk, status=Seed.Status.PENDING).exists():
            return 0  # removed meanwhile, or resolved by another worker
        inputs = [SeedInput(arxiv_id=arxiv_id) for arxiv_id in found.arxiv_ids]
        rows, already = _seed_rows(
            locked, inputs, origin=placeholder.origin, source=placeholder.source
        )
        # The placeholder makes way for the papers, up to the cap.
        room = SEEDS_MAX - Seed.objects.filter(subscriber=locked).count() + 1
        rows = [row for row in rows if row.status == Seed.Status.READY][: max(room, 0)]
        if not rows and not already:
            Seed.objects.filter(pk=placeholder.pk).update(status=Seed.Status.MISSING)
            return 0
        Seed.objects.filter(pk=placeholder.pk).delete()
        _seeds_store(locked, rows, already=already)
        if not rows:
            _signals_changed(locked.pk)  # the placeholder went away
    return len(rows)
