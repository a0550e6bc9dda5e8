from __future__ import annotations

import math

import pytest

from digest.eval import dcg, mean_ndcg, ndcg_at_k, profiles_load
from tests.helpers import CANDIDATES, FIXTURES


def test_it_scores_the_ideal_order_one_and_a_known_swap_by_hand() -> None:
    relevant = {"a": 2, "b": 1}
    assert ndcg_at_k(["a", "b", "x"], relevant, k=5) == pytest.approx(1.0)
    # b first, then a: (2^1-1)/log2(2) + (2^2-1)/log2(3) against 3/log2(2) + 1/log2(3).
    expected = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    assert ndcg_at_k(["b", "a"], relevant, k=5) == pytest.approx(expected)
    assert ndcg_at_k(["x", "y"], relevant, k=5) == 0.0


def test_it_takes_the_ideal_from_every_judged_id_not_only_the_ranked_ones() -> None:
    # Six papers judged 2: a top 5 of only relevant ones is ideal, the sixth cannot be missed.
    relevant = {str(i): 2 for i in range(6)}
    assert ndcg_at_k(["0", "1", "2", "3", "4"], relevant, k=5) == pytest.approx(1.0)
    # One relevant paper found, at rank 1, out of three judged: 3 / (3 + 3/log2(3) + 3/2).
    assert ndcg_at_k(["a", "zz"], {"a": 2, "b": 2, "c": 2}, k=5) == pytest.approx(
        1 / (1 + 1 / math.log2(3) + 0.5)
    )


def test_it_cuts_at_k_and_averages_over_profiles() -> None:
    assert dcg([1, 0, 0]) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "x", "x", "x", "x", "a"], {"a": 2}, k=5) == 0.0
    profiles, _ = profiles_load()
    perfect = {
        p.interests: sorted(p.relevant, key=p.relevant.__getitem__, reverse=True) for p in profiles
    }
    assert mean_ndcg(profiles, lambda q: perfect[q]) == pytest.approx(1.0)
    assert mean_ndcg(profiles, lambda q: []) == 0.0


def test_it_loads_the_candidates_the_judgments_name() -> None:
    profiles, papers = profiles_load()
    ids = {p.arxiv_id for p in papers}
    assert len(profiles) >= 10
    assert len(papers) == 100
    assert (FIXTURES / CANDIDATES).exists()
    # Every judged id is one of the candidates, or the judgments and file have drifted apart.
    for profile in profiles:
        assert set(profile.relevant) <= ids, profile.interests
