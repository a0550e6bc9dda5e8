"""Honest reasons: a match only by meaning, and votes named only when they are worth saying."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from digest.ranking import MATCH_MIN_SIMILARITY, CandidatePool, candidates_rank
from digest.reasons import NEW_TODAY_REASON, TRENDING_MIN_UPVOTES
from tests.helpers import Judged

LLM_INFERENCE = "efficient LLM inference, quantization, speculative decoding"


@dataclass(frozen=True)
class _Paper:
    arxiv_id: str
    title: str
    upvotes: int
    abstract: str = ""
    ai_summary: str = ""
    ai_keywords: Any = ()


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def _pool(*papers: tuple[_Paper, np.ndarray]) -> CandidatePool:
    return CandidatePool([p for p, _ in papers], np.vstack([v for _, v in papers]))


def test_only_a_pick_close_in_meaning_is_a_match_and_it_names_its_facet() -> None:
    close = _unit(1.0, 0.05)
    assert float(close @ _unit(1.0, 0.0)) >= MATCH_MIN_SIMILARITY
    # Holds the reader's word "quantization", but is about something else.
    wordy = _unit(0.2, 1.0)
    assert float(wordy @ _unit(1.0, 0.0)) < MATCH_MIN_SIMILARITY
    pool = _pool(
        (_Paper("2601.00001", "Faster decoding", 0), close),
        (_Paper("2601.00002", "3D scenes without quantization artefacts", 0), wordy),
    )

    ranked = pool.rank(
        interests="quantization", limit=2, facet_vectors=np.vstack([_unit(1.0, 0.0)])
    )

    assert [(r.arxiv_id, r.reason, r.matched) for r in ranked] == [
        ("2601.00001", "matches: quantization", "quantization"),
        ("2601.00002", NEW_TODAY_REASON, ""),
    ]
    assert not any(r.fallback for r in ranked)


def test_votes_are_a_reason_only_when_worth_saying() -> None:
    far = _unit(0.0, 1.0)
    pool = _pool(
        (_Paper("2601.00001", "Popular", TRENDING_MIN_UPVOTES), far),
        (_Paper("2601.00002", "Quiet", TRENDING_MIN_UPVOTES - 1), far),
        (_Paper("2601.00003", "Unvoted", 0), far),
    )
    expected = [f"trending: {TRENDING_MIN_UPVOTES} upvotes", NEW_TODAY_REASON, NEW_TODAY_REASON]

    # Nothing related (the trending fallback), and no interests at all.
    fallback = pool.rank(interests="knitting", limit=3, facet_vectors=np.vstack([_unit(1.0, 0)]))
    nothing = pool.rank(interests="", limit=3)

    for ranked in (fallback, nothing):
        assert [r.reason for r in ranked] == expected
        assert all(r.fallback and not r.matched for r in ranked)


def test_a_pick_chosen_by_similarity_never_says_trending_0_upvotes(judged: Judged) -> None:
    unvoted = [dataclasses.replace(p, upvotes=0) for p in judged.papers]
    for interests in (LLM_INFERENCE, "robots", "knitting sweaters and sourdough baking"):
        ranked = candidates_rank(
            interests=interests, papers=unvoted, limit=10, vectors=judged.vectors
        )
        for r in ranked:
            assert "upvote" not in r.reason, (interests, r)
            assert r.reason == (f"matches: {r.matched}" if r.matched else NEW_TODAY_REASON)


def test_a_clear_match_names_its_facet(judged: Judged) -> None:
    ranked = candidates_rank(
        interests="video generation, drug discovery",
        papers=judged.papers,
        limit=10,
        vectors=judged.vectors,
    )
    matched = {r.matched for r in ranked}
    # A list means any of its items: both topics are matched, each by name.
    assert {"video generation", "drug discovery"} <= matched
    for r in ranked:
        assert r.reason.startswith("matches: ") == bool(r.matched)
        assert not r.matched or r.reason == f"matches: {r.matched}"


def test_a_3d_paper_is_not_a_match_for_llm_inference(judged: Judged) -> None:
    # The example: these interests labelled 3D and video papers a match.
    three_d = next(p for p in judged.profiles if p.interests.startswith("3D objects"))
    ranked = candidates_rank(
        interests=LLM_INFERENCE,
        papers=judged.papers,
        limit=len(judged.papers),
        vectors=judged.vectors,
    )
    by_id = {r.arxiv_id: r for r in ranked}
    assert three_d.relevant
    for arxiv_id in three_d.relevant:
        assert by_id[arxiv_id].matched == "", by_id[arxiv_id]
        assert not by_id[arxiv_id].reason.startswith("matches")
