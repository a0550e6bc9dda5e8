"""What a reader would get from an issue, for editors: an admin preview and a test send to them.

These run in the web process, which never loads the embedding model: they use the stored
vectors, and where some are missing (an interests text nobody has written before) they rank
by words and votes only, say so, and ask the worker to embed the text for the next look.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from digest.embeddings import DIMENSIONS
from digest.ledger import SentHistory, history_read
from digest.models import Issue
from digest.notices import code_papers_recent, reader_notices
from digest.picking import Reader, reader_picks
from digest.profiles import profiles_read
from digest.ranking import CandidatePool, interests_facets
from digest.render import EmailParts, Pick, issue_frame_build
from digest.selectors import issue_papers
from digest.tasks import interests_embed, papers_embed
from digest.vectors import facets_vectors, papers_vectors
from papers.models import Paper
from subscriptions.emails import site_url
from subscriptions.models import Subscriber
from subscriptions.services import subscriber_link
from subscriptions.tokens import Purpose, token_make

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preview:
    picks: list[Pick]
    parts: EmailParts
    fallback: bool
    # False: ranked by words and votes only, the interests' vectors are not stored yet.
    semantic: bool


def issue_preview(
    *,
    issue: Issue,
    subscriber: Subscriber | None = None,
    interests: str | None = None,
    size: int | None = None,
    reader_links: bool = False,
) -> Preview:
    """The digest `subscriber` (or a reader with these `interests`) would get from this issue now.

    The reader's signed manage, signals and unsubscribe links are only made with `reader_links`:
    staff look at a reader's digest, they do not act as them, so the admin's preview has "#".
    Its vote links are always "#": a vote names a delivery, and a preview is none.
    """
    if interests is None:
        interests = subscriber.interests if subscriber else ""
    pins, candidates = issue_papers(issue=issue)
    pool, facet_vectors, semantic = _preview_pool(candidates=candidates, interests=interests)
    history = _sent_before(subscriber=subscriber, issue=issue)
    sent = history.sent
    reader = _preview_reader(subscriber=subscriber, interests=interests, size=size)
    picks, fallback = reader_picks(
        pins=[p.arxiv_id for p in pins],
        pool=pool,
        reader=reader,
        sent=sent,
        facet_vectors=facet_vectors,
    )
    frame = issue_frame_build(issue=issue, papers={p.arxiv_id: p for p in [*pins, *candidates]})
    manage_url, unsubscribe_url, signals_url, history_url = _preview_links(
        subscriber=subscriber, reader_links=reader_links
    )
    now = timezone.now()
    notices = reader_notices(history=history, code_papers=code_papers_recent(now=now))
    parts = frame.assemble(
        picks=picks,
        fallback=fallback,
        has_interests=reader.has_interests,
        manage_url=manage_url,
        unsubscribe_url=unsubscribe_url,
        vote_urls=(
            {pick.arxiv_id: ("#", "#") for pick in picks} if settings.PAPERBOY_VOTE_LINKS else None
        ),
        signals_url=signals_url,
        history_url=history_url,
        notices=notices,
    )
    return Preview(picks, parts, fallback, semantic)


def _preview_pool(
    *, candidates: list[Paper], interests: str
) -> tuple[CandidatePool, np.ndarray, bool]:
    """The candidates' pool and the facets' vectors: as stored (True) if all are, else zeros."""
    paper_vectors, facet_vectors = _stored_vectors(candidates=candidates, interests=interests)
    semantic = paper_vectors is not None and facet_vectors is not None
    if paper_vectors is None or facet_vectors is None:
        # Zeros leave the semantic signal flat: the order is then by words, then votes.
        paper_vectors = np.zeros((len(candidates), DIMENSIONS), dtype=np.float32)
        facet_vectors = np.zeros((len(interests_facets(interests)), DIMENSIONS), dtype=np.float32)
    return CandidatePool(candidates, paper_vectors), facet_vectors, semantic


def _sent_before(*, subscriber: Subscriber | None, issue: Issue) -> SentHistory:
    """What other issues lately sent the subscriber (nothing for a reader made up of interests)."""
    if subscriber is None:
        return SentHistory()
    history = history_read(
        readers=Q(subscriber=subscriber), except_issue_id=issue.pk, now=timezone.now()
    )
    return history[subscriber.pk]


def _preview_reader(*, subscriber: Subscriber | None, interests: str, size: int | None) -> Reader:
    """The reader to pick for: the subscriber with these interests, or one made up of them.

    A subscriber is picked for with what the ranking learned of them, as their digest would be.
    """
    size = size or (subscriber.digest_size if subscriber else 5)
    categories = tuple(sorted(subscriber.categories or ())) if subscriber else ()
    profile = profiles_read(readers=[subscriber.pk]).get(subscriber.pk) if subscriber else None
    return Reader(
        subscriber.pk if subscriber else 0,
        subscriber.email if subscriber else "",
        interests,
        size,
        categories,
        profile=profile,
    )


def _preview_links(
    *, subscriber: Subscriber | None, reader_links: bool
) -> tuple[str, str, str, str]:
    """The manage, unsubscribe, signals and history URLs: the reader's own if asked, else "#"."""
    if subscriber is None or not reader_links:
        return "#", "#", "#", "#"
    # The signals page opens with the manage link's token.
    token = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
    )
    return (
        site_url(reverse("subscriptions:manage", kwargs={"token": token})),
        subscriber_link(subscriber=subscriber, purpose=Purpose.UNSUBSCRIBE),
        site_url(reverse("digest:signals", kwargs={"token": token})),
        site_url(reverse("digest:history", kwargs={"token": token})),
    )


def _stored_vectors(
    *, candidates: list[Paper], interests: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The stored vectors of the candidates and of the interests' facets; None where incomplete."""
    try:
        paper_vectors = papers_vectors(papers=candidates, compute=False)
    except LookupError:
        paper_vectors = None
        _embed_later(arxiv_ids=[p.arxiv_id for p in candidates])
    try:
        facet_vectors = facets_vectors(interests=interests, compute=False)
    except LookupError:
        facet_vectors = None
        _embed_later(interests=interests)
    return paper_vectors, facet_vectors


def _embed_later(*, interests: str = "", arxiv_ids: list[str] | None = None) -> None:
    """Ask the worker for the vectors a preview lacked, so that the next look ranks by meaning."""
    if not settings.PAPERBOY_EMBED_ON_CHANGE:
        return
    if interests.strip():
        transaction.on_commit(lambda: interests_embed.delay(interests), robust=True)
    if arxiv_ids:
        transaction.on_commit(lambda: papers_embed.delay(arxiv_ids), robust=True)


def issue_send_test(*, issue: Issue, to: str, interests: str = "", size: int = 5) -> Preview:
    """Send an editor the digest a reader with these interests would get, as a test (no ledger)."""
    preview = issue_preview(issue=issue, interests=interests, size=size)
    message = EmailMultiAlternatives(
        subject=f"[Test] {preview.parts.subject}",
        body=preview.parts.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(preview.parts.html, "text/html")
    message.send()
    logger.info("digest test sent", extra={"issue": issue.pk})
    return preview


__all__ = ["Preview", "issue_preview", "issue_send_test"]
