"""Subscribers and their preferences, and the anonymous counts left behind by "delete me"."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models.functions import Length, Lower
from django.db.models.lookups import LessThanOrEqual

INTERESTS_MAX_CHARS = 500
LESS_OF_MAX_CHARS = 300
DIGEST_SIZE_MIN, DIGEST_SIZE_MAX, DIGEST_SIZE_DEFAULT = 3, 20, 5
DELIVERY_HOUR_DEFAULT = 8
# What a reader chooses, in the order the forms show it (the sign-up form adds the address first).
PREFERENCE_FIELDS = (
    "interests",
    "categories",
    "frequency",
    "digest_size",
    "delivery_hour",
    "timezone",
)

# The arXiv categories a reader can pick, with the names arXiv gives them.
ARXIV_CATEGORIES: dict[str, str] = {
    "cs.AI": "Artificial Intelligence",
    "cs.CL": "Computation and Language",
    "cs.CV": "Computer Vision and Pattern Recognition",
    "cs.LG": "Machine Learning",
    "stat.ML": "Machine Learning (Statistics)",
    "cs.IR": "Information Retrieval",
    "cs.NE": "Neural and Evolutionary Computing",
    "cs.RO": "Robotics",
    "cs.SD": "Sound",
    "eess.AS": "Audio and Speech Processing",
    "eess.IV": "Image and Video Processing",
    "cs.GR": "Graphics",
    "cs.HC": "Human-Computer Interaction",
    "cs.CR": "Cryptography and Security",
    "cs.MA": "Multiagent Systems",
}


class SubscriberStatus(models.TextChoices):
    PENDING = "pending", "Pending confirmation"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained"


class SubscriberFrequency(models.TextChoices):
    WEEKDAYS = "weekdays", "Every weekday"
    DAILY = "daily", "Every day"
    WEEKLY = "weekly", "Weekly, on Monday"


# The private feed's key: 24 random bytes, 32 URL-safe characters (selectors.FEED_KEY_PATTERN).
FEED_KEY_BYTES = 24


def feed_key_new() -> str:
    """A new, unguessable private feed key."""
    return secrets.token_urlsafe(FEED_KEY_BYTES)


class SubscriberVia(models.TextChoices):
    """How a reader's digest reaches them; every way goes through the same ranking and ledger."""

    EMAIL = "email", "Email"
    FEED = "feed", "Feed only, no email"  # recorded at their hour, read in their private feed
    # A team's Slack, Discord or signed-webhook endpoint (its address is the digest app's Channel).
    CHANNEL = "channel", "Team channel"


class Subscriber(models.Model):
    """One reader: an address, what they want to read, when, and where they stand.

    A team channel is a reader too (`via` = channel, no address): it is ranked, made due and
    recorded exactly like a person; only the hand-over differs.
    """

    Status = SubscriberStatus
    Frequency = SubscriberFrequency
    Via = SubscriberVia

    # The domain is stored lower-case; uniqueness ignores case altogether (see Meta).
    email = models.EmailField(max_length=254)
    interests = models.TextField(blank=True, default="", max_length=INTERESTS_MAX_CHARS)
    # "Less of this" (e.g. "benchmarks, surveys"): papers close to it are pushed down.
    less_of = models.TextField(blank=True, default="", max_length=LESS_OF_MAX_CHARS)
    categories = models.JSONField(default=list, blank=True)  # arXiv category codes, e.g. ["cs.CV"]
    frequency = models.CharField(
        max_length=16, choices=SubscriberFrequency.choices, default=SubscriberFrequency.DAILY
    )
    digest_size = models.PositiveSmallIntegerField(default=DIGEST_SIZE_DEFAULT)
    delivery_hour = models.PositiveSmallIntegerField(
        default=DELIVERY_HOUR_DEFAULT
    )  # local time, 0-23
    timezone = models.CharField(max_length=64, default="UTC")  # an IANA name, checked with zoneinfo
    status = models.CharField(
        max_length=16, choices=SubscriberStatus.choices, default=SubscriberStatus.PENDING
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # When the last confirmation (or "already subscribed") email went out: at most one an hour.
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    # A new address waiting for its owner to confirm it; the old one stays in use until then.
    pending_email = models.EmailField(max_length=254, blank=True, default="")
    soft_bounces = models.PositiveSmallIntegerField(default=0)  # in a row; reset by a delivery
    via = models.CharField(max_length=8, choices=SubscriberVia.choices, default=SubscriberVia.EMAIL)
    # The secret part of the reader's private feed address, made with the row (so no page view
    # has to write one); a new one kills the old. "" only for rows inserted around the ORM.
    feed_key = models.CharField(max_length=64, blank=True, default=feed_key_new)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "delivery_hour"])]
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="subscriber_email_unique_ci"
            ),
            # Only a team channel has no address.
            models.CheckConstraint(
                condition=~models.Q(email="") | models.Q(via=SubscriberVia.CHANNEL),
                name="subscriber_email_not_empty",
            ),
            models.UniqueConstraint(
                fields=["feed_key"], condition=~models.Q(feed_key=""), name="subscriber_feed_key"
            ),
            models.CheckConstraint(
                condition=models.Q(via__in=SubscriberVia.values), name="subscriber_via_valid"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("interests"), INTERESTS_MAX_CHARS),
                name="subscriber_interests_length",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("less_of"), LESS_OF_MAX_CHARS),
                name="subscriber_less_of_length",
            ),
            models.CheckConstraint(
                condition=~models.Q(timezone=""), name="subscriber_timezone_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    digest_size__gte=DIGEST_SIZE_MIN, digest_size__lte=DIGEST_SIZE_MAX
                ),
                name="subscriber_digest_size_range",
            ),
            models.CheckConstraint(
                condition=models.Q(delivery_hour__gte=0, delivery_hour__lte=23),
                name="subscriber_delivery_hour_range",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=SubscriberStatus.values),
                name="subscriber_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(frequency__in=SubscriberFrequency.values),
                name="subscriber_frequency_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"


class SeedOrigin(models.TextChoices):
    ID = "id", "arXiv id or URL"
    BIBTEX = "bibtex", "BibTeX file"
    AUTHOR = "author", "arXiv author"
    ORCID = "orcid", "ORCID iD"


class SeedStatus(models.TextChoices):
    PENDING = "pending", "Being fetched"  # an arXiv id not stored yet: the worker fetches it
    READY = "ready", "Ready"  # its paper is stored (or, for a text seed, its text is)
    MISSING = "missing", "Not found on arXiv"


class Seed(models.Model):
    """A paper a reader gave as an example of what they want: "papers like these".

    Either an arXiv id (its text is the stored paper's, fetched by the worker when unknown), or,
    for a BibTeX entry without one, a title and an abstract used as they are. An author name or
    ORCID iD is first a row with only `source` while the worker looks up their recent papers;
    the papers found replace it, or it is marked missing when there are none.
    """

    Origin = SeedOrigin
    Status = SeedStatus

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="seeds")
    arxiv_id = models.CharField(max_length=40, blank=True, default="")  # versionless; "" for text
    title = models.CharField(max_length=500, blank=True, default="")
    abstract = models.TextField(blank=True, default="")
    origin = models.CharField(max_length=8, choices=SeedOrigin.choices)
    # What the reader gave it as, when not the id itself: the author's name or the ORCID iD.
    source = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=8, choices=SeedStatus.choices, default=SeedStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "arxiv_id"],
                condition=~models.Q(arxiv_id=""),
                name="seed_subscriber_paper_unique",
            ),
            # An id, a text seed's title, or (while the worker looks it up) an author or ORCID iD.
            models.CheckConstraint(
                condition=~models.Q(arxiv_id="") | ~models.Q(title="") | ~models.Q(source=""),
                name="seed_id_title_or_source",
            ),
            models.CheckConstraint(
                condition=models.Q(origin__in=SeedOrigin.values), name="seed_origin_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=SeedStatus.values), name="seed_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"seed {self.arxiv_id or self.title[:40]} of subscriber {self.subscriber_id}"


class SubscriptionStat(models.Model):
    """An anonymous daily count of a kind of event (e.g. "deleted"): all a deleted reader leaves."""

    class Kind(models.TextChoices):
        DELETED = "deleted", "Deleted by the reader"

    day = models.DateField()
    kind = models.CharField(max_length=32, choices=Kind.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "kind"], name="subscription_stat_day_kind_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: {self.count}"


class WebhookEventAction(models.TextChoices):
    """What an email provider's event means for the subscription (see subscriptions.webhooks)."""

    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    SOFT_BOUNCE = "soft_bounce", "Soft bounce"
    COMPLAINT = "complaint", "Spam complaint"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribed at the provider"
    DELIVERY = "delivery", "Delivered"
    NONE = "none", "Nothing to do"


class WebhookEvent(models.Model):
    """One tracking event from an email provider, kept so that a redelivered event acts only once.

    The address is not stored (a deleted reader leaves no trace here): only the subscriber it
    matched, if any, which is cleared when the subscriber is deleted.
    """

    Action = WebhookEventAction

    esp_name = models.CharField(max_length=32)  # Anymail's name for the provider, e.g. "Postmark"
    # The provider's event id, or "sha256:<hex>" of the raw event for providers that send none.
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=32)  # Anymail's normalized type, e.g. "bounced"
    action = models.CharField(max_length=16, choices=WebhookEventAction.choices)
    # Several "deferred" events for one message (one per retry) count as one soft bounce.
    message_id = models.CharField(max_length=255, blank=True, default="")
    subscriber = models.ForeignKey(
        Subscriber, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_events"
    )
    occurred_at = models.DateTimeField(null=True, blank=True)  # when the provider says it happened
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["esp_name", "message_id"])]
        constraints = [
            models.UniqueConstraint(
                fields=["esp_name", "event_id"], name="webhook_event_esp_event_id_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(event_id=""), name="webhook_event_id_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(action__in=WebhookEventAction.values),
                name="webhook_event_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.esp_name} {self.event_type} {self.event_id}"
