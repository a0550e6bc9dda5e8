"""The issue of the day, the editors' pins and hides, the send ledger, and stored embeddings."""

from __future__ import annotations

from django.db import models

NOTE_MAX_CHARS = 1_000


class IssueKind(models.TextChoices):
    DAILY = "daily", "Daily"  # for "every day" and "every weekday" readers
    WEEKLY = "weekly", "Weekly"  # for "weekly" readers, on their Monday


class IssueStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # held by an editor: nothing goes out
    SCHEDULED = "scheduled", "Scheduled"  # goes out at each reader's hour
    SENDING = "sending", "Sending"  # the first digests have gone out
    SENT = "sent", "Sent"  # its day is over: no new deliveries


class Issue(models.Model):
    """One edition: a window's candidate papers, curated by editors, sent at each reader's hour."""

    Kind = IssueKind
    Status = IssueStatus

    date = models.DateField()
    kind = models.CharField(max_length=8, choices=IssueKind.choices, default=IssueKind.DAILY)
    status = models.CharField(
        max_length=12, choices=IssueStatus.choices, default=IssueStatus.SCHEDULED
    )
    note = models.TextField(
        blank=True, default="", max_length=NOTE_MAX_CHARS, help_text="The editor's note, on top."
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    # The candidates, frozen when the issue is built (arXiv ids, most trending first), so every
    # reader of this issue is ranked over the same papers whatever the votes do later that day.
    candidate_ids = models.JSONField(default=list, blank=True)
    # How many candidates are new in the window; under PAPERBOY_QUIET_MIN_PAPERS the day is
    # "quiet", the rest are topped up from the week before, and the email says so.
    new_papers = models.PositiveIntegerField(default=0)
    quiet = models.BooleanField(default=False)
    # Set by an editor or by the error-rate guard; no delivery is claimed while it is set.
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=300, blank=True, default="")
    built_at = models.DateTimeField(null=True, blank=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The delivery figures (digest.selectors.issue_counts) of a sent issue, kept when it closes,
    # refreshed nightly while late events arrive, and for ever once the ledger's rows of the
    # issue are pruned (rows_pruned_at) after PAPERBOY_DELIVERY_RETENTION_DAYS (digest.retention).
    counts_kept = models.JSONField(null=True, blank=True, editable=False)
    rows_pruned_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["date", "kind"], name="issue_date_kind_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=IssueStatus.values), name="issue_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=IssueKind.values), name="issue_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(window_start__lt=models.F("window_end")),
                name="issue_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} issue of {self.date:%Y-%m-%d}"


class IssuePin(models.Model):
    """A paper an editor puts first in every reader's digest of this issue, in `position` order."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="pins")
    paper = models.ForeignKey("papers.Paper", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["issue", "paper"], name="issue_pin_unique")]

    def __str__(self) -> str:
        return f"pin {self.paper_id} in {self.issue_id}"


class IssueHide(models.Model):
    """A candidate an editor keeps out of this issue."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="hides")
    paper = models.ForeignKey("papers.Paper", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issue", "paper"], name="issue_hide_unique")]

    def __str__(self) -> str:
        return f"hide {self.paper_id} in {self.issue_id}"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # due, waiting for a batch to claim it
    SENDING = "sending", "Sending"  # claimed by a batch (claimed_at says when)
    SENT = "sent", "Sent"  # accepted by the provider (message_id)
    FAILED = "failed", "Failed"  # refused, or out of retries (error says why)
    # The reader left (or was suppressed) before the batch was claimed.
    SKIPPED = "skipped", "Skipped"


class Delivery(models.Model):
    """The ledger: a row per (issue, reader), claimed before sending: no one gets an issue twice."""

    Status = DeliveryStatus

    # No index of its own (db_index=False): the indexes below begin with it, and a lone
    # issue_id index misled the planner on a freshly loaded ledger into a claim of a second.
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    # Its own index stays: on a ledger not yet analyzed, the batch's history read takes it (5 ms
    # at ten million rows) where without it the planner chose a 20-second bitmap scan.
    subscriber = models.ForeignKey(
        "subscriptions.Subscriber", on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.UUIDField(null=True, blank=True)  # the batch that holds it
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True, default="")
    papers = models.JSONField(default=list, blank=True)  # the arXiv ids sent, in order
    reasons = models.JSONField(default=list, blank=True)  # each paper's reason, in that order
    # The papers this delivery told the reader had code out since they were sent them (arXiv
    # ids): each is told once per reader, so the ledger remembers it with the delivery.
    notices = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            # The claim's order (an issue's queued rows by id) is read off this index, so a
            # batch's claim costs the same at a million queued rows as at a thousand; the
            # per-issue counts use it too.
            models.Index(fields=["issue", "status", "id"], name="delivery_issue_status_id"),
            models.Index(fields=["subscriber", "created_at"]),
            models.Index(fields=["status", "claimed_at"]),
            # A batch reads its readers, profiles and history joined through its claim: without
            # this, each of those reads scans the whole ledger. Only rows in flight hold a claim.
            models.Index(
                fields=["claim"], name="delivery_claim", condition=models.Q(claim__isnull=False)
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "subscriber"], name="delivery_issue_subscriber_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values), name="delivery_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"issue {self.issue_id} to subscriber {self.subscriber_id}: {self.status}"


class TextEmbedding(models.Model):
    """A text's MiniLM embedding, keyed by a hash of model and text (papers and interests alike)."""

    key = models.CharField(max_length=64, primary_key=True)
    vector = models.BinaryField()  # float32, little-endian, unit length
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class VoteDirection(models.TextChoices):
    MORE = "more", "More like this"
    LESS = "less", "Less like this"


class Vote(models.Model):
    """A reader's standing "more / less like this" on a paper, cast from a digest's link."""

    Direction = VoteDirection

    subscriber = models.ForeignKey(
        "subscriptions.Subscriber", on_delete=models.CASCADE, related_name="votes"
    )
    # The digest whose link cast it; the vote is the reader's and outlives an issue's deletion.
    delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="votes"
    )
    arxiv_id = models.CharField(max_length=40)
    direction = models.CharField(max_length=4, choices=VoteDirection.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One vote per reader and paper: a change updates it, an undo deletes it.
            models.UniqueConstraint(
                fields=["subscriber", "arxiv_id"], name="vote_subscriber_paper_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(direction__in=VoteDirection.values), name="vote_direction_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.arxiv_id} by subscriber {self.subscriber_id}"


class VoteArrival(models.Model):
    """A vote as it arrived from a link, kept a few seconds to tell a link scanner's burst."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="+")
    arxiv_id = models.CharField(max_length=40)
    direction = models.CharField(max_length=4, choices=VoteDirection.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["delivery", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(direction__in=VoteDirection.values),
                name="vote_arrival_direction_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.arxiv_id} in delivery {self.delivery_id}"


class PaperClick(models.Model):
    """A tracked click on a paper's link in a digest: a weak positive signal, never a vote."""

    subscriber = models.ForeignKey(
        "subscriptions.Subscriber", on_delete=models.CASCADE, related_name="paper_clicks"
    )
    # The digest it came from; the click is the reader's signal and outlives the ledger's row.
    delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="paper_clicks"
    )
    arxiv_id = models.CharField(max_length=40)
    clicked_at = models.DateTimeField()  # the provider's time of the click
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Clicking a paper's abstract, then its PDF, is still one signal.
            models.UniqueConstraint(fields=["delivery", "arxiv_id"], name="paper_click_unique"),
        ]

    def __str__(self) -> str:
        return f"click on {self.arxiv_id} in delivery {self.delivery_id}"


class ReaderProfile(models.Model):
    """What the ranking learned of one reader, computed by the worker when their signals change.

    Read by the sending batch in one query for all its readers; a reader without a row is ranked
    on their interests alone. See digest.learning.
    """

    subscriber = models.OneToOneField(
        "subscriptions.Subscriber",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="reader_profile",
    )
    # float32, little-endian: the per-reader classifier's weights over the embedding, then bias.
    weights = models.BinaryField(default=b"")
    # float16 rows: the unit embeddings of the papers the reader liked or gave as seeds, for the
    # reasons ("because you liked 'Title'"), in the order of `examples`.
    example_vectors = models.BinaryField(default=b"")
    examples = models.JSONField(default=list)  # [{"kind": "liked"|"seed", "title": ...}, ...]
    # float32 rows: the "less of this" text's facets; papers close to them are pushed down, as
    # are papers with one of its words in their title.
    less_vectors = models.BinaryField(default=b"")
    less_text = models.CharField(max_length=300, blank=True, default="")
    # How much the reader taught: seeds and votes (older votes count less, a click a quarter).
    signals = models.FloatField(default=0.0)
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of subscriber {self.subscriber_id} ({self.signals} signals)"


class ChannelKind(models.TextChoices):
    SLACK = "slack", "Slack incoming webhook"
    DISCORD = "discord", "Discord webhook"
    WEBHOOK = "webhook", "Signed webhook (Standard Webhooks)"


class Channel(models.Model):
    """A team's channel: where its reader row's digests are posted (see digest.channels).

    Its preferences (interests, seeds, size, frequency, hour, time zone) are its Subscriber's,
    so it is ranked, made due and recorded like any reader; paused, its reader is paused too.
    """

    Kind = ChannelKind

    subscriber = models.OneToOneField(
        "subscriptions.Subscriber",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="channel",
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=ChannelKind.choices)
    url = models.URLField(max_length=500)
    # The Standard Webhooks signing secret ("whsec_" + base64), shown to the editor once.
    secret = models.CharField(max_length=100, blank=True, default="")
    failures = models.PositiveSmallIntegerField(default=0)  # failed deliveries in a row
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_sent_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=ChannelKind.values), name="channel_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(url__startswith="https://"), name="channel_url_https"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"
