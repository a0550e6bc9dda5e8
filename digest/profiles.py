"""Each reader's learned profile in the database: refit by the worker, read once per batch.

A reader's profile is refit (digest.learning) whenever what they taught changes: a vote, a seed
ready or removed, the "less of this" text or the interests. The fit reads the stored vectors
of the papers involved, so it runs in the worker (which may have to embed a missing one),
never in a web request. A reader who taught nothing beyond the interests text has no row and is
ranked on the text alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import Q
from django.utils import timezone

from digest import learning
from digest.embeddings import DIMENSIONS
from digest.learning import Example, ExampleKind, LearnedProfile, Signals
from digest.models import PaperClick, ReaderProfile, Vote, VoteDirection
from digest.vectors import facets_vectors, papers_vectors
from papers.models import Paper
from subscriptions.models import Seed, SeedStatus, Subscriber


@dataclass(frozen=True)
class TextSeed:
    """A seed with no arXiv id (a BibTeX entry): embedded from its title and abstract."""

    title: str
    abstract: str
    ai_summary: str = ""
    ai_keywords: tuple[str, ...] = ()


def profile_refresh(*, subscriber_id: int, now: dt.datetime | None = None) -> ReaderProfile | None:
    """Refit and store the reader's profile; None (and no row) when they taught nothing yet."""
    now = now or timezone.now()
    subscriber = Subscriber.objects.filter(pk=subscriber_id).values("interests", "less_of").first()
    if subscriber is None:
        return None
    votes = list(
        Vote.objects.filter(subscriber_id=subscriber_id)
        .order_by("-updated_at", "-id")
        .values_list("arxiv_id", "direction", "updated_at")
    )
    voted = {arxiv_id for arxiv_id, _, _ in votes}
    clicks = [
        (arxiv_id, clicked_at)
        for arxiv_id, clicked_at in PaperClick.objects.filter(subscriber_id=subscriber_id)
        .order_by("-clicked_at")
        .values_list("arxiv_id", "clicked_at")
        if arxiv_id not in voted
    ]
    seeds = list(
        Seed.objects.filter(subscriber_id=subscriber_id, status=SeedStatus.READY).values_list(
            "arxiv_id", "title", "abstract"
        )
    )
    less_of = subscriber["less_of"].strip()
    if not (votes or clicks or seeds or less_of):
        ReaderProfile.objects.filter(subscriber_id=subscriber_id).delete()
        return None
    profile = _profile_fit(
        interests=subscriber["interests"],
        less_of=less_of,
        votes=votes,
        clicks=clicks,
        seeds=seeds,
        now=now,
    )
    row, _ = ReaderProfile.objects.update_or_create(
        subscriber_id=subscriber_id, defaults=profile_fields(profile)
    )
    return row


def _profile_fit(
    *,
    interests: str,
    less_of: str,
    votes: list[tuple[str, str, dt.datetime]],
    clicks: list[tuple[str, dt.datetime]],
    seeds: list[tuple[str, str, str]],
    now: dt.datetime,
) -> LearnedProfile:
    """The profile of these signals, their papers' vectors read (or computed) here."""
    ids = {a for a, _, _ in votes} | {a for a, _ in clicks} | {a for a, _, _ in seeds if a}
    papers = {p.arxiv_id: p for p in Paper.objects.filter(arxiv_id__in=ids)}
    return profile_build(
        interests=interests,
        less_of=less_of,
        liked=[
            (papers[a], when) for a, d, when in votes if d == VoteDirection.MORE and a in papers
        ],
        disliked=[
            (papers[a], when) for a, d, when in votes if d == VoteDirection.LESS and a in papers
        ],
        clicked=[(papers[a], when) for a, when in clicks if a in papers],
        seeds=[
            papers[a] if a else TextSeed(title, abstract)
            for a, title, abstract in seeds
            if (a in papers) or (not a and title)
        ],
        now=now,
    )


def profile_build(
    *,
    interests: str = "",
    less_of: str = "",
    liked: Sequence[tuple[Paper, dt.datetime]] = (),
    disliked: Sequence[tuple[Paper, dt.datetime]] = (),
    clicked: Sequence[tuple[Paper, dt.datetime]] = (),
    seeds: Sequence[Paper | TextSeed] = (),
    now: dt.datetime,
) -> LearnedProfile:
    """A reader's profile from their papers (with when they voted) and texts; nothing stored.

    Reads (or, in the worker and commands, computes) the vectors of the papers involved and of
    the most recently seen papers, the weak negatives.
    """

    def weights(voted: Sequence[tuple[Paper, dt.datetime]], base: float = 1.0) -> np.ndarray:
        return learning.vote_weights([learning.age_days(w, now) for _, w in voted], base=base)

    seed_vectors = papers_vectors(papers=seeds)
    liked_vectors = papers_vectors(papers=[p for p, _ in [*liked, *clicked]])
    own = {p.arxiv_id for p, _ in [*liked, *disliked, *clicked]}
    own |= {s.arxiv_id for s in seeds if isinstance(s, Paper)}
    signals = Signals(
        facets=facets_vectors(interests=interests),
        seeds=seed_vectors,
        liked=liked_vectors,
        liked_weights=np.concatenate(
            [weights(liked), weights(clicked, base=learning.CLICK_WEIGHT)]
        ),
        disliked=papers_vectors(papers=[p for p, _ in disliked]),
        disliked_weights=weights(disliked),
        less=facets_vectors(interests=less_of),
        background=_background(exclude=own),
    )
    examples = [
        *(Example(ExampleKind.LIKED, p.arxiv_id, p.title) for p, _ in liked),
        *(
            Example(ExampleKind.SEED, s.arxiv_id if isinstance(s, Paper) else "", s.title)
            for s in seeds
        ),
    ][: learning.EXAMPLES_MAX]
    example_vectors = np.vstack([liked_vectors[: len(liked)], seed_vectors])[: len(examples)]
    return learning.profile_learn(
        signals, examples=examples, example_vectors=example_vectors, less_text=less_of
    )


def _background(*, exclude: set[str]) -> np.ndarray:
    """The most recently seen papers, the reader's own left out: the weak negatives."""
    recent = list(
        Paper.objects.exclude(arxiv_id__in=exclude).order_by("-first_seen_at", "-id")[
            : learning.BACKGROUND_PAPERS
        ]
    )
    return papers_vectors(papers=recent) if recent else learning.empty()


def profile_fields(profile: LearnedProfile) -> dict[str, Any]:
    """A profile as the ReaderProfile row stores it."""
    examples = profile.example_vectors if profile.example_vectors is not None else learning.empty()
    less = profile.less_vectors if profile.less_vectors is not None else learning.empty()
    return {
        "weights": profile.weights.astype("<f4").tobytes(),
        "example_vectors": examples.astype("<f2").tobytes(),
        "examples": [
            {"kind": e.kind, "arxiv_id": e.arxiv_id, "title": e.title} for e in profile.examples
        ],
        "less_vectors": less.astype("<f4").tobytes(),
        "less_text": profile.less_text,
        "signals": profile.signals,
    }


def _rows(data: bytes, dtype: str) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=dtype).reshape(-1, DIMENSIONS).astype(np.float32)


def profile_from_fields(
    *,
    weights: bytes,
    example_vectors: bytes,
    examples: list[dict[str, str]],
    less_vectors: bytes,
    less_text: str,
    signals: float,
) -> LearnedProfile:
    """A stored profile read back (see profile_fields)."""
    less = _rows(less_vectors, "<f4")
    return LearnedProfile(
        weights=np.frombuffer(bytes(weights), dtype="<f4"),
        signals=signals,
        examples=tuple(Example(e["kind"], e["arxiv_id"], e["title"]) for e in examples),
        example_vectors=_rows(example_vectors, "<f2"),
        less_vectors=less if len(less) else None,
        less_text=less_text,
    )


_FIELDS = (
    "subscriber_id",
    "weights",
    "example_vectors",
    "examples",
    "less_vectors",
    "less_text",
    "signals",
)


def profiles_read(*, readers: Q | Iterable[int]) -> dict[int, LearnedProfile]:
    """The profiles of these readers (a filter on Subscriber, or their ids), in one query."""
    rows = ReaderProfile.objects.filter(
        subscriber__in=Subscriber.objects.filter(readers)
        if isinstance(readers, Q)
        else list(readers)
    ).values_list(*_FIELDS)
    return {
        pk: profile_from_fields(
            weights=w, example_vectors=ev, examples=ex, less_vectors=lv, less_text=lt, signals=n
        )
        for pk, w, ev, ex, lv, lt, n in rows
    }
