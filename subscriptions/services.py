"""Writes: sign up, confirm, change preferences or address, pause, unsubscribe, delete.

Anyone can type anyone's address into the sign-up form, so signing up never changes an
existing confirmed subscription and never says whether the address was known: it only
(re)sends the owner an email, at most once an hour. Everything else is reached through a
signed link from one of our emails (see subscriptions.tokens).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

# tasks imports this module as well: each uses the other's functions only when called, never while
# loading, so either may be imported first.
from subscriptions import tasks
from subscriptions.emails import email_build, site_url
from subscriptions.models import (
    DELIVERY_HOUR_DEFAULT,
    DIGEST_SIZE_DEFAULT,
    Subscriber,
    SubscriptionStat,
    WebhookEvent,
)
from subscriptions.signals import interests_changed
from subscriptions.tokens import Purpose, token_make

if TYPE_CHECKING:
    from celery import Task

logger = logging.getLogger(__name__)

RESEND_INTERVAL = dt.timedelta(hours=1)
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


def email_normalize(email: str) -> str:
    """The address as stored: trimmed, its domain lower-case (the local part is the owner's)."""
    local, _, domain = email.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def subscriber_link(*, subscriber: Subscriber, purpose: Purpose, address: str | None = None) -> str:
    """The absolute URL of a signed link for this subscriber (to its current address by default)."""
    token = token_make(
        subscriber_id=subscriber.pk, address=address or subscriber.email, purpose=purpose
    )
    return site_url(reverse(f"subscriptions:{purpose.value}", kwargs={"token": token}))


def _locked_by_email(email: str) -> Subscriber | None:
    return (
        Subscriber.objects.select_for_update()
        .alias(email_lower=Lower("email"))
        .filter(email_lower=email.lower())
        .first()
    )


def _send_claim(*, subscriber_id: int, now: dt.datetime) -> bool:
    """Take the right to send this subscriber a sign-up email now: at most one an hour."""
    due = Q(confirmation_sent_at__isnull=True) | Q(confirmation_sent_at__lte=now - RESEND_INTERVAL)
    return Subscriber.objects.filter(due, pk=subscriber_id).update(confirmation_sent_at=now) == 1


def _enqueue_after_commit(task: Task, subscriber_id: int) -> None:
    # robust: a broker that is down is logged, not turned into an error page after the
    # sign-up committed.
    transaction.on_commit(lambda: task.delay(subscriber_id), robust=True)


def subscriber_confirmation_resend(*, subscriber_id: int, now: dt.datetime) -> bool:
    """Mail a pending subscriber the confirmation again (after commit); False within the hour."""
    if not _send_claim(subscriber_id=subscriber_id, now=now):
        return False
    _enqueue_after_commit(tasks.subscriber_signup_email_send_task, subscriber_id)
    return True


def subscriber_subscribe(*, email: str, preferences: Preferences) -> None:
    """Sign an address up (or up again): the same outcome for the caller, whatever its state.

    New, pending and unsubscribed or suppressed addresses (re)start as pending with these
    preferences and get a confirmation email; an active or paused subscription is left as
    it is and its owner gets a link to the manage page instead. The email goes out after
    commit, from the worker, so the response takes the same time either way.
    """
    email = email_normalize(email)
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
        elif subscriber.status in _REOPENED:
            for name, value in asdict(preferences).items():
                setattr(subscriber, name, value)
            subscriber.status = Status.PENDING
            subscriber.save()
        if _send_claim(subscriber_id=subscriber.pk, now=now):
            _enqueue_after_commit(tasks.subscriber_signup_email_send_task, subscriber.pk)
        interests_changed.send(sender=Subscriber, interests=subscriber.interests)
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
        logger.info("subscriber confirmed", extra={"subscriber_id": subscriber.pk})
    return confirmed


def subscriber_update(*, subscriber: Subscriber, preferences: Preferences) -> Subscriber:
    """Save new preferences (from the manage page)."""
    for name, value in asdict(preferences).items():
        setattr(subscriber, name, value)
    subscriber.save(update_fields=[*asdict(preferences), "updated_at"])
    interests_changed.send(sender=Subscriber, interests=subscriber.interests)
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
    new_email = email_normalize(new_email)
    if new_email.lower() == subscriber.email.lower():
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
        Subscriber.objects.filter(pk=subscriber.pk, pending_email=new_email).update(
            email=new_email, pending_email="", updated_at=timezone.now()
        )
    subscriber.refresh_from_db()


def subscriber_delete(*, subscriber: Subscriber) -> None:
    """Erase the subscriber (address, preferences); only an anonymous count of deletions is kept."""
    with transaction.atomic():
        subscriber.delete()
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
