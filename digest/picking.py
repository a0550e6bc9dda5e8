"""Choosing one reader's papers from an issue: pins first, then the ranking, never a paper resent.

The sending batch and the editors' preview both pick through here, so that a preview shows
exactly what the reader would get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digest.learning import LearnedProfile
from digest.ranking import CandidatePool, Ranked
from digest.reasons import PIN_REASON
from digest.render import Pick


@dataclass(frozen=True)
class Reader:
    subscriber_id: int
    email: str
    interests: str
    digest_size: int
    categories: tuple[str, ...] = ()  # arXiv categories the reader keeps to; empty: all
    # What the ranking learned of the reader's votes, seeds and "less of this" (digest.profiles);
    # None: ranked on the interests text alone.
    profile: LearnedProfile | None = None
    via: str = "email"  # how the digest reaches them (a SubscriberVia)

    @property
    def has_interests(self) -> bool:
        """Whether the reader told us what they like: interests written, or seeds and votes.

        One who did neither is never told that nothing matched.
        """
        return bool(self.interests.strip()) or (self.profile is not None and self.profile.learns)


def reader_picks(
    *,
    pins: Sequence[str],
    pool: CandidatePool,
    reader: Reader,
    sent: set[str],
    facet_vectors: np.ndarray | None,
) -> tuple[list[Pick], bool]:
    """Pins first, then the best candidates for the reader's interests; never a paper sent twice."""
    pinned = [Pick(arxiv_id, PIN_REASON, pinned=True) for arxiv_id in pins if arxiv_id not in sent]
    if reader.categories:
        # Editors' pins go to everyone; the rest keeps to the reader's categories.
        sent = sent | pool.outside_categories(reader.categories)
    pinned = pinned[: reader.digest_size]
    room = reader.digest_size - len(pinned)
    ranked: list[Ranked] = []
    if room > 0:
        ranked = pool.rank(
            interests=reader.interests,
            limit=room,
            exclude_ids=sent,
            facet_vectors=facet_vectors,
            profile=reader.profile,
        )
    fallback = bool(ranked) and ranked[0].fallback
    picks = [Pick(r.arxiv_id, r.reason, r.matched, example=r.example) for r in ranked]
    return [*pinned, *picks], fallback
