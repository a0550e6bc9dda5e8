"""Sending one batch: claim, re-read its readers, pick and assemble their emails, send, record.

The queries per batch are constant whatever its size: claim (1), the readers (1), their learned
profiles (1), what they were already sent (1), their interests' vectors (at most 1, often 0:
they are cached) and the outcome (1). The issue itself (candidates, their vectors, the rendered
frame) is prepared once per process and reused by every batch (IssueContext). The provider's side
(batch sizes, merged or one-by-one sending, what is worth a retry) is digest.transport's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from config import metrics
from digest import ledger, send_limits, transport
from digest.copies import copy_token_make
from digest.ledger import Claimed, Outcome, SentHistory
from digest.models import DeliveryStatus, Issue
from digest.notices import CodePaper, code_papers_recent, reader_notices
from digest.picking import Reader, reader_picks
from digest.profiles import profiles_read
from digest.ranking import CandidatePool, interests_facets
from digest.render import IssueFrame, Pick, authors_line, issue_frame_build, issue_heading
from digest.selectors import issue_papers
from digest.services import issue_pause
from digest.transport import ChannelTarget, DigestItem, Handover, OutgoingDigest
from digest.vectors import papers_vectors, vectors_get
from digest.votes import VOTE_LESS, VOTE_MORE, vote_tokens_make
from papers.models import Paper
from papers.text import SUMMARY_MAX_CHARS, summary_text
from subscriptions.emails import site_url
from subscriptions.models import Subscriber
from subscriptions.tokens import Purpose, token_make

logger = logging.getLogger(__name__)

_ISSUE_CACHE_SECONDS = 60
# Below this many sends a batch's failure rate says little: a few refused addresses are not an
# outage.
_PAUSE_MIN_ATTEMPTED = 20


# --- The issue, prepared once per process ------------------------------------------------------


@dataclass
class IssueContext:
    issue: Issue
    pins: list[str]
    pool: CandidatePool
    frame: IssueFrame
    papers: dict[str, Paper]  # every paper a pick may name, for the channels' messages
    code_papers: dict[str, CodePaper]  # papers whose code appeared lately ("code is out")
    loaded_at: float = field(default_factory=time.monotonic)


_issue_contexts: dict[int, IssueContext] = {}


def issue_context(
    *, issue_id: int, fresh: bool = False, now: dt.datetime | None = None
) -> IssueContext:
    """The issue's pins, ranked pool and rendered frame, built once a minute at most per process.

    `now` (the batch's time) dates the look-back of "code is out".
    """
    context = _issue_contexts.get(issue_id)
    if context is None or fresh or time.monotonic() - context.loaded_at > _ISSUE_CACHE_SECONDS:
        issue = Issue.objects.get(pk=issue_id)
        pins, candidates = issue_papers(issue=issue)
        pool = CandidatePool(candidates, papers_vectors(papers=candidates) if candidates else None)
        papers = {p.arxiv_id: p for p in [*pins, *candidates]}
        frame = issue_frame_build(issue=issue, papers=papers)
        code_papers = code_papers_recent(now=now or timezone.now())
        context = IssueContext(issue, [p.arxiv_id for p in pins], pool, frame, papers, code_papers)
        _issue_contexts[issue_id] = context
    return context


def contexts_clear() -> None:
    """Forget the issue contexts this process holds (tests; a worker rebuilds each every minute)."""
    _issue_contexts.clear()


# --- A reader's email -----------------------------------------------------------------------------


def idempotency_key(*, issue_id: int, subscriber_id: int) -> str:
    """A stable key for one reader's copy of one issue: the same on every retry, unguessable."""
    message = f"paperboy.delivery:{issue_id}:{subscriber_id}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:40]


class _ReaderLinks:
    """The reader's manage, signals, unsubscribe, copy and vote URLs, reversed once per batch."""

    def __init__(self) -> None:
        self.manage = site_url(reverse("subscriptions:manage", kwargs={"token": "T0KEN"}))
        # The signals page opens with the manage link's token: no extra signing per reader.
        self.signals = site_url(reverse("digest:signals", kwargs={"token": "T0KEN"}))
        self.history = site_url(reverse("digest:history", kwargs={"token": "T0KEN"}))
        self.unsubscribe = site_url(reverse("subscriptions:unsubscribe", kwargs={"token": "T0KEN"}))
        # Cut at the token once: each paper's two URLs are then two concatenations.
        self._more = self._vote_url(VOTE_MORE).split("T0KEN")
        self._less = self._vote_url(VOTE_LESS).split("T0KEN")
        self._copy = site_url(reverse("digest:copy", kwargs={"token": "T0KEN"})).split("T0KEN")

    @staticmethod
    def _vote_url(direction: str) -> str:
        return site_url(reverse("digest:vote", kwargs={"token": "T0KEN", "direction": direction}))

    def for_reader(self, reader: Reader) -> tuple[str, str, str, str]:
        """The reader's (manage, unsubscribe, signals, history) URLs."""

        def token(purpose: Purpose) -> str:
            return token_make(
                subscriber_id=reader.subscriber_id, address=reader.email, purpose=purpose
            )

        manage = token(Purpose.MANAGE)
        return (
            self.manage.replace("T0KEN", manage),
            self.unsubscribe.replace("T0KEN", token(Purpose.UNSUBSCRIBE)),
            self.signals.replace("T0KEN", manage),
            self.history.replace("T0KEN", manage),
        )

    def copy_for_reader(self, reader: Reader, *, delivery_id: int) -> str:
        """The URL of the reader's own web copy of this delivery ("View in browser")."""
        head, tail = self._copy
        return head + copy_token_make(delivery_id=delivery_id, address=reader.email) + tail

    def votes_for_reader(
        self, reader: Reader, *, delivery_id: int, picks: Sequence[Pick]
    ) -> dict[str, tuple[str, str]]:
        """Each pick's "More like this" and "Less like this" URLs, signed for this delivery."""
        (more_head, more_tail), (less_head, less_tail) = self._more, self._less
        arxiv_ids = [pick.arxiv_id for pick in picks]
        tokens = vote_tokens_make(
            delivery_id=delivery_id, arxiv_ids=arxiv_ids, address=reader.email
        )
        return {
            arxiv_id: (more_head + token + more_tail, less_head + token + less_tail)
            for arxiv_id, token in zip(arxiv_ids, tokens, strict=True)
        }


# --- One batch ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchRetry:
    """A batch worth another try: its rows stay held under `claim`, which the retry takes back."""

    claim: uuid.UUID
    reason: str
    retry_after: float | None = None  # seconds a receiver asked to wait (a 429's Retry-After)


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    paused: bool = False
    # Set when the provider or the network failed and attempts are left.
    retry: BatchRetry | None = None
    # Deliveries a sending limit held back: given back to the queue untried, no attempt spent.
    held: int = 0
    capped: bool = False  # the day's cap is used up: the rest go out the next UTC day
    # The rate's turn was further than the batch may hold its claim: seconds before a new batch.
    wait: float | None = None


def deliveries_send_batch(
    *,
    issue_id: int,
    batch_size: int | None = None,
    claim: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> BatchResult:
    """Claim (or, with `claim`, take back for a retry) a batch of an issue's deliveries; send it.

    When the provider or the network failed and attempts are left, the result's `retry` holds
    the claim to retry under; the rows not yet sent stay claimed meanwhile. Emails the sending
    limits (digest.send_limits) hold back go back to the queue, as the result says.
    """
    now = now or timezone.now()
    if claim is None and send_limits.daily_cap_reached(now=now):
        # Nothing is claimed, so no attempt is spent; the hourly tick queues the issue's batches
        # again, and the first one of the next UTC day sends them.
        logger.info("digest batch held: daily cap reached", extra={"issue": issue_id})
        return BatchResult(capped=True)
    size = send_limits.batch_size_fit(batch_size or transport.batch_size_default())
    wait_until = send_limits.claim_wait_deadline()
    claim, claimed = _batch_claim(issue_id=issue_id, size=size, claim=claim, now=now)
    result = BatchResult(claimed=len(claimed))
    if not claimed:
        return result
    context = issue_context(issue_id=issue_id, now=now)
    outcomes, result.retry, grant, held = _batch_hand_over(
        context=context, claim=claim, claimed=claimed, now=now, wait_until=wait_until
    )
    ledger.delivery_record(claim=claim, outcomes=outcomes, now=now)
    if held:
        _batch_release(result=result, claim=claim, held=held, grant=grant, now=now)
    if result.retry is not None:
        logger.warning(
            "digest batch will retry", extra={"issue": issue_id, "error": result.retry.reason}
        )
        return result
    _batch_conclude(result=result, issue=context.issue, outcomes=outcomes)
    return result


def _batch_claim(
    *, issue_id: int, size: int, claim: uuid.UUID | None, now: dt.datetime
) -> tuple[uuid.UUID, list[Claimed]]:
    """A new claim on up to `size` of the issue's deliveries, or the rows held under `claim`."""
    if claim is None:
        return ledger.delivery_claim(issue_id=issue_id, limit=size, now=now)
    return claim, ledger.delivery_reclaim(claim=claim, now=now)


def _batch_hand_over(
    *,
    context: IssueContext,
    claim: uuid.UUID,
    claimed: Sequence[Claimed],
    now: dt.datetime,
    wait_until: float,
) -> tuple[list[Outcome], BatchRetry | None, send_limits.SendGrant, list[OutgoingDigest]]:
    """Each claimed reader's digest assembled and handed to the transport.

    Returns the outcomes, any retry, what the sending limits granted, and the digests they held.
    """
    readers, targets, outcomes = _readers_reread(claim, claimed)
    digests = _digests_assemble(
        context=context,
        claimed=claimed,
        readers=readers,
        targets=targets,
        outcomes=outcomes,
        now=now,
    )
    handover, grant, held = _digests_send_limited(
        issue_id=context.issue.pk, digests=digests, now=now, wait_until=wait_until
    )
    outcomes += handover.outcomes
    metrics.deliveries_count(
        digests=digests, outcomes=outcomes, deferred=handover.unsent, held=held
    )
    if handover.transient_error is None:
        return outcomes, None, grant, held
    retry = _retry_or_give_up(
        claim=claim, reason=handover.transient_error, unsent=handover.unsent, outcomes=outcomes
    )
    if retry is not None and handover.retry_after is not None:
        retry = BatchRetry(retry.claim, retry.reason, retry_after=handover.retry_after)
    return outcomes, retry, grant, held


def _digests_send_limited(
    *, issue_id: int, digests: Sequence[OutgoingDigest], now: dt.datetime, wait_until: float
) -> tuple[Handover, send_limits.SendGrant, list[OutgoingDigest]]:
    """Hand the digests over, the emails within the provider's limits; what the limits held back.

    The rest (feeds, team channels) go first, so that the emails go to the provider right after
    their tokens were taken.
    """
    limited = [d for d in digests if send_limits.counts(d.via)]
    others = [d for d in digests if not send_limits.counts(d.via)]
    handover = transport.digests_send(issue_id=issue_id, digests=others) if others else Handover()
    grant = send_limits.send_tokens_take(count=len(limited), now=now, wait_until=wait_until)
    if grant.count:
        emails = transport.digests_send(issue_id=issue_id, digests=limited[: grant.count])
        # The provider's trouble left some untaken: their tokens of the day go back.
        send_limits.send_tokens_return(count=len(emails.unsent), now=now)
        handover = _handover_join(handover, emails)
    return handover, grant, limited[grant.count :]


def _handover_join(first: Handover, second: Handover) -> Handover:
    """Two hand-overs of one batch as one: every outcome, every trouble, the longest wait."""
    errors = [e for e in (first.transient_error, second.transient_error) if e]
    waits = [w for w in (first.retry_after, second.retry_after) if w is not None]
    return Handover(
        [*first.outcomes, *second.outcomes],
        "; ".join(errors) or None,
        [*first.unsent, *second.unsent],
        max(waits) if waits else None,
    )


def _batch_release(
    *,
    result: BatchResult,
    claim: uuid.UUID,
    held: Sequence[OutgoingDigest],
    grant: send_limits.SendGrant,
    now: dt.datetime,
) -> None:
    """Give the digests a sending limit held back to the queue, and say why in `result`."""
    result.held = ledger.delivery_release(
        claim=claim, delivery_ids=[d.claimed.delivery_id for d in held], now=now
    )
    result.capped = grant.capped
    # Held for no reason of the day or the rate's turn (more than the rate was claimed, by a retry
    # after the rate was lowered): a new batch takes them at once.
    result.wait = grant.retry_after if grant.retry_after is not None or grant.capped else 0.0
    logger.info(
        "digest batch held by the sending limits",
        extra={"held": result.held, "capped": grant.capped, "wait": grant.retry_after},
    )


def _batch_conclude(*, result: BatchResult, issue: Issue, outcomes: Sequence[Outcome]) -> None:
    """Count the recorded outcomes into `result`, pause the issue if many failed, and log it."""
    for outcome in outcomes:
        setattr(result, outcome.status, getattr(result, outcome.status, 0) + 1)
    result.paused = _issue_pause_if_failing(issue=issue, result=result, outcomes=outcomes)
    logger.info(
        "digest batch sent",
        extra={
            "issue": issue.pk,
            "claimed": result.claimed,
            "sent": result.sent,
            "failed": result.failed,
        },
    )


def _retry_or_give_up(
    *, claim: uuid.UUID, reason: str, unsent: Sequence[OutgoingDigest], outcomes: list[Outcome]
) -> BatchRetry | None:
    """Fail the unsent rows out of attempts (added to `outcomes`); a retry for the rest, if any."""
    spent = [d for d in unsent if d.claimed.attempts >= ledger.MAX_ATTEMPTS]
    give_up = f"gave up after {ledger.MAX_ATTEMPTS} attempts: {reason}"
    outcomes += [transport.outcome_failed(d.claimed, give_up) for d in spent]
    return BatchRetry(claim=claim, reason=reason) if len(spent) < len(unsent) else None


def _outcome_skipped(claimed: Claimed, reason: str) -> Outcome:
    """A delivery not sent, and why (the reader left, or had every paper already)."""
    return Outcome(claimed.delivery_id, DeliveryStatus.SKIPPED, error=reason)


def _readers_reread(
    claim: uuid.UUID, claimed: Sequence[Claimed]
) -> tuple[dict[int, Reader], dict[int, ChannelTarget], list[Outcome]]:
    """The claimed rows' readers (and channels' targets), re-read now: one who left is skipped."""
    # Joined through the claim rather than listing the ids: the query is the same size for any
    # batch. A team channel's target comes in the same row.
    rows = Subscriber.objects.filter(deliveries__claim=claim).values_list(
        "pk",
        "email",
        "status",
        "confirmed_at",
        "interests",
        "digest_size",
        "categories",
        "via",
        "channel__kind",
        "channel__name",
        "channel__url",
        "channel__secret",
    )
    # What the ranking learned of them (their votes, seeds, "less of this"): one query more.
    profiles = profiles_read(readers=Q(deliveries__claim=claim))
    readers: dict[int, Reader] = {}
    targets: dict[int, ChannelTarget] = {}
    for pk, email, status, confirmed_at, interests, size, categories, via, *channel in rows:
        if status != Subscriber.Status.ACTIVE or confirmed_at is None:
            continue
        if via == Subscriber.Via.CHANNEL:
            if channel[0] is None:  # a channel's reader row without its channel: nowhere to post
                continue
            targets[pk] = ChannelTarget(*channel)
        readers[pk] = Reader(
            pk,
            email,
            interests,
            size,
            tuple(sorted(categories or ())),
            profile=profiles.get(pk),
            via=via,
        )
    skipped = [
        _outcome_skipped(c, "no longer subscribed when the batch was claimed")
        for c in claimed
        if c.subscriber_id not in readers
    ]
    return readers, targets, skipped


def _facet_vectors(readers: Sequence[Reader]) -> dict[str, np.ndarray]:
    """Every facet's vector for these readers' interests, in one lookup (computed if missing)."""
    texts = list(dict.fromkeys(f for r in readers for f in interests_facets(r.interests)))
    vectors = vectors_get(texts=texts)
    return dict(zip(texts, vectors, strict=True))


def _digests_assemble(
    *,
    context: IssueContext,
    claimed: Sequence[Claimed],
    readers: dict[int, Reader],
    targets: dict[int, ChannelTarget],
    outcomes: list[Outcome],
    now: dt.datetime,
) -> list[OutgoingDigest]:
    """Each reader's papers picked and digest assembled; one with nothing new is skipped.

    A skipped reader's outcome is added to `outcomes`.
    """
    if not readers:
        return []
    # One query for any batch size (the readers' ids are one array parameter).
    history = ledger.history_read(
        subscriber_ids=list(readers), except_issue_id=context.issue.pk, now=now
    )
    by_facet = _facet_vectors(list(readers.values()))
    links = _ReaderLinks()
    digests = []
    for c in claimed:
        reader = readers.get(c.subscriber_id)
        if reader is None:
            continue
        sent = history[reader.subscriber_id]
        picks, fallback = _reader_pick(
            context=context, reader=reader, sent=sent.sent, by_facet=by_facet
        )
        if not picks:
            outcomes.append(_outcome_skipped(c, "nothing left this reader has not had"))
            continue
        made = _DigestMade(c, reader, picks, fallback, sent, targets.get(reader.subscriber_id))
        digests.append(_digest_make(context, made, links=links))
    return digests


def _reader_pick(
    *, context: IssueContext, reader: Reader, sent: set[str], by_facet: dict[str, np.ndarray]
) -> tuple[list[Pick], bool]:
    """The reader's picks (and whether they are the trending fallback), ranked by their facets."""
    facets = interests_facets(reader.interests)
    vectors = np.vstack([by_facet[f] for f in facets]) if facets else None
    return reader_picks(
        pins=context.pins, pool=context.pool, reader=reader, sent=sent, facet_vectors=vectors
    )


@dataclass(frozen=True)
class _DigestMade:
    """What one reader's digest is made of, once their papers are picked."""

    claimed: Claimed
    reader: Reader
    picks: list[Pick]
    fallback: bool
    history: SentHistory
    target: ChannelTarget | None


def _digest_make(
    context: IssueContext, made: _DigestMade, *, links: _ReaderLinks
) -> OutgoingDigest:
    """The reader's digest, as their way of receiving it needs it, with its idempotency key."""
    reader, picks = made.reader, made.picks
    key = idempotency_key(issue_id=context.issue.pk, subscriber_id=reader.subscriber_id)
    notices = tuple(reader_notices(history=made.history, code_papers=context.code_papers))
    digest = OutgoingDigest(
        made.claimed,
        reader.email,
        None,
        picks=tuple(p.arxiv_id for p in picks),
        unsubscribe_url="",
        idempotency_key=key,
        via=reader.via,
        reasons=tuple(p.reason for p in picks),
        notices=notices,
    )
    if reader.via == Subscriber.Via.FEED:
        return digest
    if made.target is not None:
        return dataclasses.replace(
            digest,
            to=made.target.name,
            items=_digest_items(context, picks),
            heading=issue_heading(context.issue),
            issue_url=context.frame.view_url,
            channel=made.target,
        )
    manage_url, unsubscribe_url, signals_url, history_url = links.for_reader(reader)
    parts = context.frame.assemble(
        picks=picks,
        fallback=made.fallback,
        has_interests=reader.has_interests,
        manage_url=manage_url,
        unsubscribe_url=unsubscribe_url,
        vote_urls=(
            links.votes_for_reader(reader, delivery_id=made.claimed.delivery_id, picks=picks)
            if settings.PAPERBOY_VOTE_LINKS
            else None
        ),
        signals_url=signals_url,
        history_url=history_url,
        view_url=links.copy_for_reader(reader, delivery_id=made.claimed.delivery_id),
        notices=notices,
    )
    return dataclasses.replace(digest, parts=parts, unsubscribe_url=unsubscribe_url)


def _digest_items(context: IssueContext, picks: Sequence[Pick]) -> tuple[DigestItem, ...]:
    """The picks as a channel shows them: title, the paper's page, authors, summary, reason."""
    items = []
    for pick in picks:
        paper = context.papers[pick.arxiv_id]
        items.append(
            DigestItem(
                arxiv_id=paper.arxiv_id,
                title=" ".join(paper.title.split()),
                url=site_url(reverse("papers:detail", kwargs={"arxiv_id": paper.arxiv_id})),
                authors=authors_line(paper.authors or []),
                summary=summary_text(paper=paper, max_chars=SUMMARY_MAX_CHARS),
                reason=pick.reason,
            )
        )
    return tuple(items)


def _issue_pause_if_failing(
    *, issue: Issue, result: BatchResult, outcomes: Sequence[Outcome]
) -> bool:
    """Pause the issue when the provider refuses much of a batch (a bad key, a blocked domain…)."""
    attempted = result.sent + result.failed
    if (
        attempted < _PAUSE_MIN_ATTEMPTED
        or result.failed / attempted < settings.PAPERBOY_PAUSE_ERROR_RATE
    ):
        return False
    example = next((o.error for o in outcomes if o.status == DeliveryStatus.FAILED), "")
    return issue_pause(
        issue=issue, reason=f"{result.failed} of {attempted} digests failed in one batch: {example}"
    )
