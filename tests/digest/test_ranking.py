from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digest import ranking
from digest.eval import mean_ndcg
from digest.ranking import (
    RELATED_MIN_SIMILARITY,
    bm25_scores,
    candidates_rank,
    interests_facets,
    signals_compute,
)
from tests.helpers import Judged

ROOT = Path(__file__).resolve().parents[2]


def _ids(ranked: list) -> list[str]:
    return [r.arxiv_id for r in ranked]


def test_it_ranks_the_dev_profiles_better_than_trending_alone(judged: Judged) -> None:
    def blend(interests: str) -> list[str]:
        return _ids(
            candidates_rank(
                interests=interests, papers=judged.papers, limit=5, vectors=judged.vectors
            )
        )

    def trending(interests: str) -> list[str]:
        ordered = sorted(judged.papers, key=lambda p: (-(p.upvotes or 0), p.arxiv_id))
        return [p.arxiv_id for p in ordered[:5]]

    blended, popular = mean_ndcg(judged.profiles, blend), mean_ndcg(judged.profiles, trending)
    assert blended > popular + 0.3, (blended, popular)


def test_it_puts_a_judged_paper_first_for_every_dev_profile(judged: Judged) -> None:
    labelled = 0
    for profile in judged.profiles:
        ranked = candidates_rank(
            interests=profile.interests, papers=judged.papers, limit=1, vectors=judged.vectors
        )
        assert ranked[0].arxiv_id in profile.relevant, profile.interests
        # Called a match only when close enough in meaning, never for sharing words.
        assert ranked[0].reason.startswith("matches: ") == bool(ranked[0].matched)
        labelled += bool(ranked[0].matched)
        assert not ranked[0].fallback
    assert labelled >= len(judged.profiles) // 2


def test_it_computes_the_paper_embeddings_itself_when_none_are_given(judged: Judged) -> None:
    papers, vectors = judged.papers[:20], judged.vectors[:20]
    given = candidates_rank(interests="video generation", papers=papers, limit=5, vectors=vectors)
    computed = candidates_rank(interests="video generation", papers=papers, limit=5)
    assert _ids(given) == _ids(computed)


def test_it_never_returns_an_excluded_paper(judged: Judged) -> None:
    first = candidates_rank(
        interests="video generation", papers=judged.papers, limit=5, vectors=judged.vectors
    )
    sent = set(_ids(first))
    again = candidates_rank(
        interests="video generation",
        papers=judged.papers,
        limit=5,
        exclude_ids=sent,
        vectors=judged.vectors,
    )
    assert len(again) == 5
    assert not sent & set(_ids(again))
    # The rest keep their order: the next five of a longer ranking.
    longer = candidates_rank(
        interests="video generation", papers=judged.papers, limit=10, vectors=judged.vectors
    )
    assert _ids(again) == _ids(longer)[5:]


def test_it_excludes_papers_from_the_trending_fallback_too(judged: Judged) -> None:
    top = max(judged.papers, key=lambda p: p.upvotes or 0)
    ranked = candidates_rank(
        interests="", papers=judged.papers, limit=3, exclude_ids={top.arxiv_id}
    )
    assert top.arxiv_id not in _ids(ranked)


def test_it_falls_back_to_trending_with_a_flag_when_nothing_matches(judged: Judged) -> None:
    interests = "knitting sweaters and sourdough baking"
    signals = signals_compute(interests=interests, papers=judged.papers, vectors=judged.vectors)
    assert signals.semantic.max() < RELATED_MIN_SIMILARITY
    assert signals.lexical.max() == 0

    ranked = candidates_rank(
        interests=interests, papers=judged.papers, limit=4, vectors=judged.vectors
    )

    by_votes = sorted(judged.papers, key=lambda p: (-(p.upvotes or 0), p.arxiv_id))[:4]
    assert _ids(ranked) == [p.arxiv_id for p in by_votes]
    assert all(r.fallback for r in ranked)
    assert [r.reason for r in ranked] == [f"trending: {p.upvotes} upvotes" for p in by_votes]


@pytest.mark.parametrize("interests", ["", "   \n "])
def test_it_gives_trending_for_empty_interests(judged: Judged, interests: str) -> None:
    ranked = candidates_rank(
        interests=interests, papers=judged.papers, limit=3, vectors=judged.vectors
    )
    assert [r.upvotes for r in ranked] == sorted(
        (p.upvotes or 0 for p in judged.papers), reverse=True
    )[:3]
    assert all(r.fallback and r.reason.startswith("trending: ") for r in ranked)


def test_it_gives_the_facet_a_paper_matched_as_its_reason(judged: Judged) -> None:
    interests = "video generation and drug discovery"
    ranked = candidates_rank(
        interests=interests, papers=judged.papers, limit=10, vectors=judged.vectors
    )
    reasons = {r.reason for r in ranked if r.matched}
    assert reasons <= {f"matches: {f}" for f in (interests, "video generation", "drug discovery")}
    # A list means any of its items: both topics make the top ten.
    assert {"matches: video generation"} & reasons
    assert {"matches: drug discovery"} & reasons


def test_it_orders_by_score_and_keeps_scores_in_range(judged: Judged) -> None:
    ranked = candidates_rank(
        interests="diffusion language models",
        papers=judged.papers,
        limit=50,
        vectors=judged.vectors,
    )
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len({r.arxiv_id for r in ranked}) == 50


def test_it_rejects_vectors_that_do_not_match_the_papers(judged: Judged) -> None:
    with pytest.raises(ValueError, match="vectors"):
        candidates_rank(
            interests="robots", papers=judged.papers, limit=3, vectors=judged.vectors[:5]
        )


def test_it_splits_a_list_of_interests_into_facets_and_keeps_the_whole() -> None:
    assert interests_facets("speech and audio") == ["speech and audio", "speech", "audio"]
    assert interests_facets(" 3D pose estimation,  efficient LLM inference ;robots") == [
        "3D pose estimation, efficient LLM inference ;robots",
        "3D pose estimation",
        "efficient LLM inference",
        "robots",
    ]
    assert interests_facets("diffusion language models") == ["diffusion language models"]
    assert interests_facets("  ") == []
    assert interests_facets("Brand and brand") == ["Brand and brand", "Brand", "brand"]


def test_it_scores_bm25_only_where_a_word_occurs_and_folds_plurals() -> None:
    docs = [
        ["robot", "arm", "grasp"],
        ["language", "model"],
        ["robot", "robot", "robot", "walk"],
        [],
    ]
    scores, matched = bm25_scores("Robots and the language", docs)
    assert scores[0] > 0
    assert scores[2] > scores[0]
    assert scores[1] > 0
    assert scores[3] == 0
    assert matched == [["robots"], ["language"], ["robots"], []]
    assert np.all(scores >= 0)
    empty, _ = bm25_scores("the and of", docs)
    assert not empty.any()


def test_it_does_not_load_the_model_when_the_web_process_imports_ranking() -> None:
    code = (
        "import sys, digest.ranking, digest.embeddings, digest.eval; "
        "bad = [m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_pool_keeps_scores_for_a_bounded_number_of_interests_and_they_match_a_fresh_ranking(
    judged: Any,
) -> None:
    pool = ranking.CandidatePool(judged.papers, judged.vectors)
    texts = [f"robots and topic {i}" for i in range(ranking._SCORES_KEPT + 50)]
    zeros = np.zeros((3, judged.vectors.shape[1]), dtype=np.float32)
    for text in texts:
        pool.rank(interests=text, limit=3, facet_vectors=zeros)
    assert len(pool._scores_by_interests) == ranking._SCORES_KEPT
    again = pool.rank(interests=texts[-1], limit=5, facet_vectors=zeros)
    fresh = ranking.CandidatePool(judged.papers, judged.vectors).rank(
        interests=texts[-1], limit=5, facet_vectors=zeros
    )
    assert again == fresh
