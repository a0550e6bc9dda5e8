"""Reads over issues and the send ledger: what is published, who gets an issue, the figures.

Nothing here ranks for a reader, so nothing here imports digest.ranking or digest.embeddings:
the web process, which reads through this module, never loads the sentence-transformers model.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)

from digest.models import (
    Delivery,
    DeliveryStatus,
    Issue,
    IssueKind,
    IssueStatus,
    PaperClick,
    ReaderProfile,
    Vote,
    VoteDirection,
)
from digest.reasons import PIN_REASON, trending_reason
from digest.render import Pick
from digest.votes import VoteTokenError, vote_token_read
from papers.models import Paper
from subscriptions.models import Seed, Subscriber
from subscriptions.selectors import (
    DELIVERABLE,
    subscriber_find_by_email,
    subscriber_list_deliverable,
)
from subscriptions.tokens import fingerprint_matches

# The per-issue figures of the admin's changelist, each counted from the ledger with its condition.
ISSUE_LIST_COUNTS: dict[str, Q | None] = {
    "due": None,
    "sent": Q(status=DeliveryStatus.SENT),
    "failed": Q(status=DeliveryStatus.FAILED),
    "delivered": Q(delivered_at__isnull=False),
    "opened": Q(opened_at__isnull=False),
    "clicked": Q(clicked_at__isnull=False),
    "bounced": Q(bounced_at__isnull=False),
    "complained": Q(complained_at__isnull=False),
}
# Every figure of issue_counts, in its order.
ISSUE_COUNT_NAMES = (
    "due",
    "queued",
    "sending",
    "sent",
    "failed",
    "skipped",
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "complained",
)
# Readers of one issue must all get the same issue: once it goes out, its pins, hides and note stay.
FROZEN_STATUSES = (IssueStatus.SENDING, IssueStatus.SENT)
_FROZEN_MEMO = "_digest_issue_is_frozen"
Frequency = Subscriber.Frequency


# --- Issues ---------------------------------------------------------------------------------------


def issue_list_published() -> QuerySet[Issue]:
    """Issues the public may read, newest first: those that have gone out (sending or sent).

    An issue appears on the day it begins to be sent, never while it is a draft or scheduled; one
    with no papers (built before empty windows were skipped) never appears.
    """
    return (
        Issue.objects.filter(status__in=FROZEN_STATUSES)
        .exclude(candidate_ids=[])
        .order_by("-date", "kind")
    )


def issue_find_published(*, date: dt.date, kind: str) -> Issue | None:
    """The published issue of this date and kind, or None."""
    return issue_list_published().filter(date=date, kind=kind).first()


def issue_is_published(*, issue: Issue) -> bool:
    """Whether the public may read this issue."""
    return issue_list_published().filter(pk=issue.pk).exists()


def issue_find(*, date: dt.date, kind: str) -> Issue | None:
    """The issue of this date and kind, whatever its status, or None."""
    return Issue.objects.filter(date=date, kind=kind).first()


def issue_get_locked(*, issue_id: int) -> Issue:
    """The issue, its row locked until the transaction ends (SELECT … FOR UPDATE)."""
    return Issue.objects.select_for_update().get(pk=issue_id)


def issue_is_frozen(*, issue: Issue | None) -> bool:
    """Whether the issue has started going out, so its pins, hides and note can no longer change.

    The answer is kept on the instance: the admin asks it several times per page.
    """
    if issue is None or issue.pk is None:
        return False
    # In the instance's __dict__, as cached_property does: the model declares no such attribute.
    memo = vars(issue)
    if _FROZEN_MEMO not in memo:
        memo[_FROZEN_MEMO] = issue.status in FROZEN_STATUSES or issue.deliveries.exists()
    return bool(memo[_FROZEN_MEMO])


# --- Who an issue goes to -------------------------------------------------------------------------


def issue_readers(*, issue: Issue) -> QuerySet[Subscriber]:
    """Every deliverable reader of the issue's kind: daily and weekday readers, or weekly ones."""
    return subscriber_list_deliverable().filter(frequency__in=_issue_frequencies(issue))


def issue_readers_to_send(*, issue: Issue) -> QuerySet[Subscriber]:
    """Who "send now" would add: deliverable readers of the issue's kind not yet due for it."""
    return issue_readers(issue=issue).exclude(deliveries__issue=issue)


# Why a subscriber is not reached by "send now", most telling first: a reader who left is counted
# as having left even if they had the issue, and one of the other kind whatever their status.
REACH_REASONS = {
    "other_kind": "Readers of the other kind of issue",
    Subscriber.Status.PENDING.value: "Not confirmed yet",
    "unconfirmed": "Active but never confirmed",
    Subscriber.Status.PAUSED.value: "Paused",
    Subscriber.Status.UNSUBSCRIBED.value: "Unsubscribed",
    Subscriber.Status.BOUNCED.value: "Bounced (address suppressed)",
    Subscriber.Status.COMPLAINED.value: "Complained (address suppressed)",
    "already": "Already due for it, or sent it",
}
_REACHED = "reached"


@dataclass(frozen=True)
class IssueReach:
    """Whom "send now" would add to an issue, and why every other subscriber is left out."""

    readers: int  # deliverable readers of the issue's kind with no delivery of it yet
    subscribers: int  # everyone on the list, whatever their status
    left_out: list[tuple[str, str, int]]  # (reason, what it means, how many), none of them 0


def issue_reach(*, issue: Issue) -> IssueReach:
    """How many readers "send now" would add, and the others counted by reason, in one query."""
    kind = Q(frequency__in=_issue_frequencies(issue))
    has_it = Exists(Delivery.objects.filter(issue=issue, subscriber=OuterRef("pk")))
    reason = Case(
        When(~kind, then=Value("other_kind")),
        When(~Q(status__in=DELIVERABLE), then=F("status")),
        When(confirmed_at__isnull=True, then=Value("unconfirmed")),
        When(has_it, then=Value("already")),
        default=Value(_REACHED),
        output_field=CharField(),
    )
    rows = Subscriber.objects.order_by().annotate(reason=reason).values("reason")
    found = {row["reason"]: row["n"] for row in rows.annotate(n=Count("pk"))}
    return IssueReach(
        readers=found.get(_REACHED, 0),
        subscribers=sum(found.values()),
        left_out=[
            (name, _reach_reason_text(name, issue), found[name])
            for name in REACH_REASONS
            if found.get(name)
        ],
    )


def _issue_frequencies(issue: Issue) -> list[str]:
    """The subscribers' frequencies an issue's kind serves."""
    if issue.kind == IssueKind.WEEKLY:
        return [Frequency.WEEKLY]
    return [Frequency.DAILY, Frequency.WEEKDAYS]


def _reach_reason_text(name: str, issue: Issue) -> str:
    if name != "other_kind":
        return REACH_REASONS[name]
    if issue.kind == IssueKind.WEEKLY:
        return "Daily and weekday readers (they get the daily issue, not this weekly one)"
    return "Weekly readers (they get the weekly issue, not this daily one)"


def subscriber_find_by_email_or_id(*, value: str) -> Subscriber | None:
    """The subscriber with this id (all digits), else with this email address; None if neither."""
    found = Subscriber.objects.filter(pk=int(value)).first() if value.isdigit() else None
    return found or subscriber_find_by_email(email=value)


# --- The ledger's figures -------------------------------------------------------------------------


def issue_counts(*, issue: Issue) -> dict[str, int]:
    """The issue's delivery figures, by name.

    due, queued, sending, sent, failed and skipped count the ledger's rows; delivered, opened,
    clicked, bounced and complained count the provider's events. An issue whose rows were
    pruned (digest.retention) gives the figures kept when they were.
    """
    if issue.rows_pruned_at is not None and issue.counts_kept is not None:
        return {name: int(issue.counts_kept.get(name, 0)) for name in ISSUE_COUNT_NAMES}
    return issue_counts_live(issue_id=issue.pk)


def issue_counts_live(*, issue_id: int) -> dict[str, int]:
    """The issue's figures counted over its ledger rows now (see issue_counts)."""
    rows = Delivery.objects.filter(issue_id=issue_id).aggregate(
        due=Count("id"),
        queued=Count("id", filter=Q(status=DeliveryStatus.QUEUED)),
        sending=Count("id", filter=Q(status=DeliveryStatus.SENDING)),
        sent=Count("id", filter=Q(status=DeliveryStatus.SENT)),
        failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
        skipped=Count("id", filter=Q(status=DeliveryStatus.SKIPPED)),
        delivered=Count("id", filter=Q(delivered_at__isnull=False)),
        opened=Count("id", filter=Q(opened_at__isnull=False)),
        clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        bounced=Count("id", filter=Q(bounced_at__isnull=False)),
        complained=Count("id", filter=Q(complained_at__isnull=False)),
    )
    return {key: int(value or 0) for key, value in rows.items()}


def issue_counts_by_id(*, issues: Sequence[Issue]) -> dict[int, dict[str, int]]:
    """{issue id: {"due": …, "sent": …, … "complained": …}} for these issues, in one query at most.

    Sent issues give the figures they keep (refreshed nightly, digest.retention); only the
    others, the few still going out, are counted, over the ledger's issue index: never the whole
    ledger (a join annotated onto the changelist's queryset would also weigh on its COUNT(*) and
    date queries, over every delivery ever made).
    """
    found: dict[int, dict[str, int]] = {
        issue.pk: {name: int(issue.counts_kept.get(name, 0)) for name in ISSUE_LIST_COUNTS}
        for issue in issues
        if issue.counts_kept is not None
    }
    counted = [issue.pk for issue in issues if issue.pk not in found]
    if counted:
        rows = (
            Delivery.objects.filter(issue_id__in=counted)
            .order_by()
            .values("issue_id")
            .annotate(
                **{
                    name: Count("id", filter=condition)
                    for name, condition in ISSUE_LIST_COUNTS.items()
                }
            )
        )
        found.update({row.pop("issue_id"): row for row in rows})
    return {issue.pk: found.get(issue.pk, dict.fromkeys(ISSUE_LIST_COUNTS, 0)) for issue in issues}


def issue_delivery_count(*, issue: Issue) -> int:
    """How many readers have a ledger row for this issue, whatever its status."""
    return Delivery.objects.filter(issue=issue).count()


def delivery_count_queued(*, issue_id: int) -> int:
    """How many of the issue's deliveries wait in the queue for a batch."""
    return Delivery.objects.filter(issue_id=issue_id, status=DeliveryStatus.QUEUED).count()


def delivery_list_latest(*, subscriber: Subscriber, limit: int) -> list[Delivery]:
    """The subscriber's latest deliveries with their issues (one query), newest issue first."""
    deliveries = Delivery.objects.filter(subscriber=subscriber).select_related("issue")
    return list(deliveries.order_by("-issue__date", "-pk")[:limit])


# --- Votes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteTarget:
    """What a vote link names, checked: the delivery (with its reader), the paper and its title."""

    delivery: Delivery
    arxiv_id: str
    title: str


def vote_target_find(*, token: str) -> VoteTarget:
    """The delivery and paper a vote link names, or VoteTokenError saying why it cannot be used."""
    delivery_id, arxiv_id, fingerprint = vote_token_read(token)
    delivery = Delivery.objects.select_related("subscriber").filter(pk=delivery_id).first()
    # A deleted reader took their deliveries along; a changed address kills the old links.
    if delivery is None or not fingerprint_matches(delivery.subscriber.email, fingerprint):
        raise VoteTokenError(
            "This link is no longer valid: there is no reader behind it.", status=404
        )
    if arxiv_id not in delivery.papers:
        raise VoteTokenError("This link names a paper that was not in your digest.", status=404)
    paper = Paper.objects.filter(arxiv_id=arxiv_id).only("title").first()
    return VoteTarget(
        delivery=delivery, arxiv_id=arxiv_id, title=paper.title if paper else arxiv_id
    )


# --- A reader's signals: what they taught the ranking (their own page, their data export) ------


@dataclass(frozen=True)
class SignalVote:
    """One of the reader's standing votes, with the paper's title when the paper is stored."""

    id: int
    arxiv_id: str
    title: str
    stored: bool  # the paper is in the database: its page can be linked
    direction: str
    updated_at: dt.datetime


@dataclass(frozen=True)
class ReaderSignals:
    """Everything a reader gave the ranking beyond the texts on their subscription."""

    votes: list[SignalVote]
    seeds: list[Seed]
    clicks: int  # tracked clicks on papers in their digests: weak signals, counted only
    learned: bool  # the worker holds a learned profile for them


def reader_signals(*, subscriber: Subscriber) -> ReaderSignals:
    """The reader's votes (newest first, with titles), seeds, click count and learned state.

    Five queries, whatever the number of votes.
    """
    votes = list(Vote.objects.filter(subscriber=subscriber).order_by("-updated_at", "-pk"))
    titles = dict(
        Paper.objects.filter(arxiv_id__in=[vote.arxiv_id for vote in votes]).values_list(
            "arxiv_id", "title"
        )
    )
    return ReaderSignals(
        votes=[
            SignalVote(
                vote.pk,
                vote.arxiv_id,
                " ".join(titles.get(vote.arxiv_id, vote.arxiv_id).split()),
                vote.arxiv_id in titles,
                vote.direction,
                vote.updated_at,
            )
            for vote in votes
        ],
        seeds=list(Seed.objects.filter(subscriber=subscriber).order_by("created_at", "pk")),
        clicks=PaperClick.objects.filter(subscriber=subscriber).count(),
        learned=ReaderProfile.objects.filter(subscriber=subscriber).exists(),
    )


def vote_list_export(*, subscriber_id: int) -> list[dict[str, Any]]:
    """The reader's votes, oldest first, JSON-ready, for their data export."""
    votes = Vote.objects.filter(subscriber_id=subscriber_id).order_by("created_at", "pk")
    return [
        {
            "arxiv_id": arxiv_id,
            "direction": direction,
            "created_at": created.isoformat(),
            "updated_at": updated.isoformat(),
        }
        for arxiv_id, direction, created, updated in votes.values_list(
            "arxiv_id", "direction", "created_at", "updated_at"
        )
    ]


def paper_click_list_export(*, subscriber_id: int) -> list[dict[str, Any]]:
    """The reader's tracked clicks on papers of their digests, oldest first, JSON-ready."""
    clicks = PaperClick.objects.filter(subscriber_id=subscriber_id).order_by("clicked_at", "pk")
    return [
        {"arxiv_id": arxiv_id, "clicked_at": clicked.isoformat()}
        for arxiv_id, clicked in clicks.values_list("arxiv_id", "clicked_at")
    ]


@dataclass(frozen=True)
class VoteCounts:
    """How many readers of an issue asked for more, and for less, like one paper."""

    more: int = 0
    less: int = 0


def issue_vote_counts(*, issue: Issue) -> dict[str, VoteCounts]:
    """{arXiv id: counts} of the standing votes cast from this issue's digests, in one query.

    Counts only: editors curate with them and never see who voted.
    """
    rows = (
        Vote.objects.filter(delivery__issue=issue)
        .order_by()
        .values("arxiv_id")
        .annotate(
            more=Count("pk", filter=Q(direction=VoteDirection.MORE)),
            less=Count("pk", filter=Q(direction=VoteDirection.LESS)),
        )
    )
    return {row["arxiv_id"]: VoteCounts(row["more"], row["less"]) for row in rows}


# --- Papers of an issue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One of an issue's candidates, with what the editors did to it in this issue."""

    paper: Paper
    pinned: bool
    hidden_in_issue: bool


def issue_candidate_list(*, issue: Issue) -> list[Candidate]:
    """The issue's candidates that still exist, most trending first, marked pinned or hidden.

    Three queries, whatever the number of candidates.
    """
    ids = issue.candidate_ids or []
    papers = Paper.objects.only(
        "pk", "arxiv_id", "title", "upvotes", "hidden", "withdrawn_at"
    ).in_bulk(ids, field_name="arxiv_id")
    pinned = set(issue.pins.values_list("paper__arxiv_id", flat=True))
    hidden = set(issue.hides.values_list("paper__arxiv_id", flat=True))
    return [Candidate(papers[i], i in pinned, i in hidden) for i in ids if i in papers]


def issue_papers(*, issue: Issue) -> tuple[list[Paper], list[Paper]]:
    """The issue's pins, in order, and its candidates to rank, most trending first.

    The candidates leave out the pinned papers, the papers hidden in this issue, and those
    hidden site-wide or withdrawn since the issue was built.
    """
    pins = [pin.paper for pin in issue.pins.select_related("paper").order_by("position", "id")]
    hidden = set(issue.hides.values_list("paper__arxiv_id", flat=True))
    pinned = {paper.arxiv_id for paper in pins}
    by_id = Paper.objects.filter(
        arxiv_id__in=issue.candidate_ids, hidden=False, withdrawn_at__isnull=True
    ).in_bulk(field_name="arxiv_id")
    candidates = [
        by_id[arxiv_id]
        for arxiv_id in issue.candidate_ids
        if arxiv_id in by_id and arxiv_id not in hidden and arxiv_id not in pinned
    ]
    return pins, candidates


# How many other papers a pin search weighs (most upvoted first) before ranking them by the words.
_PIN_SEARCH_POOL = 500
_TITLE_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class PinChoices:
    """The papers a pin or hide search offers: the issue's candidates, then the other papers."""

    candidates: list[Paper]
    others: list[Paper]


def paper_list_to_pin(*, issue: Issue, term: str, limit: int = 20) -> PinChoices:
    """The papers whose title has every word of `term` (or whose arXiv id starts with it), best
    match first: the issue's candidates, then up to `limit` others.

    A whole title word beats the start of one, which beats a piece of one: "SAM 3" finds
    "SAM 3: Segment Anything with Concepts" before "MedSAM3", and that before "Sample-efficient
    3D…". Two queries.
    """
    # PostgreSQL refuses NUL in a text parameter; a search is never longer than a title.
    term = " ".join(term.replace("\x00", " ").split())[:200]
    words = _TITLE_WORD.findall(term.lower())[:8]
    ids = issue.candidate_ids or []
    order = {arxiv_id: n for n, arxiv_id in enumerate(ids)}
    fields = ("pk", "arxiv_id", "title", "upvotes")
    in_issue = Paper.objects.only(*fields).filter(arxiv_id__in=ids)
    others = Paper.objects.only(*fields).exclude(arxiv_id__in=ids)
    if words:
        match = Q()
        for word in words:
            match &= Q(title__icontains=word)
        match |= Q(arxiv_id__startswith=term)
        in_issue, others = in_issue.filter(match), others.filter(match)
    pool = list(others.order_by("-upvotes", "arxiv_id")[:_PIN_SEARCH_POOL])

    def rank(paper: Paper) -> tuple[int, int]:
        return (-_title_match(paper, words, term), -paper.upvotes)

    return PinChoices(
        candidates=sorted(
            in_issue, key=lambda paper: (*rank(paper)[:1], order.get(paper.arxiv_id, 0))
        ),
        others=sorted(pool, key=rank)[:limit],
    )


def _title_match(paper: Paper, words: list[str], term: str) -> int:
    """How well the words match the title: 3 a whole word, 2 a word's start, 1 a piece, each."""
    if term and paper.arxiv_id.startswith(term):
        return 100
    title = _TITLE_WORD.findall(paper.title.lower())
    score = 0
    for word in words:
        if word in title:
            score += 3
        elif any(part.startswith(word) for part in title):
            score += 2
        else:
            score += 1
    # The words run together in one title word ("sam3" in "MedSAM3") beat words found apart;
    # the words in a row at the title's start ("SAM 3: …") are the paper most likely meant.
    if len(words) > 1 and any("".join(words) in part for part in title):
        score += 3
    return score + (1 if words and title[: len(words)] == words else 0)


def papers_by_arxiv_id(*, arxiv_ids: list[str]) -> dict[str, Paper]:
    """{arXiv id: paper} for those of these ids that exist, in one query."""
    return Paper.objects.in_bulk(arxiv_ids, field_name="arxiv_id")


def _paper_is_shown(paper: Paper) -> bool:
    return not paper.hidden and paper.withdrawn_at is None


def issue_public_picks(*, issue: Issue, limit: int) -> tuple[list[Pick], dict[str, Paper]]:
    """The non-personal digest: the editors' pins, then the most trending candidates, to `limit`."""
    pins = [pin.paper for pin in issue.pins.select_related("paper") if _paper_is_shown(pin.paper)]
    skip = {paper.arxiv_id for paper in pins}
    skip.update(issue.hides.values_list("paper__arxiv_id", flat=True))
    wanted = [arxiv_id for arxiv_id in issue.candidate_ids or [] if arxiv_id not in skip]
    found = Paper.objects.filter(arxiv_id__in=wanted, hidden=False, withdrawn_at__isnull=True)
    by_id = found.in_bulk(field_name="arxiv_id")
    trending = [by_id[arxiv_id] for arxiv_id in wanted if arxiv_id in by_id][
        : max(limit - len(pins), 0)
    ]
    picks = [Pick(paper.arxiv_id, PIN_REASON, pinned=True) for paper in pins]
    picks += [Pick(paper.arxiv_id, trending_reason(paper.upvotes)) for paper in trending]
    return picks, {paper.arxiv_id: paper for paper in [*pins, *trending]}
