"""A ranking that learns: nDCG@5 cold, seeds only, and after simulated votes, on learn_dev.

    python bench/learn_eval.py [--tune]           (make bench)

Data: digest/eval/learn_dev/ (11 judged January 2026 days of real Hugging Face papers, 14
readers with seed papers; the protocol is in its README). Each run goes through the days in
order; each day it ranks that day's papers, takes the top 5, records nDCG@5, and the reader
votes on those 5 (grade >= 2 up, unlisted down, grade 1 no vote) before the next day.

The product's runs go through the product's own code: digest.learning fits the reader's profile
(a per-reader logistic regression on MiniLM embeddings; see its docstring) and
CandidatePool.rank blends it with the interests' text score. Runs: cold (interests only), seeds
only, interests + seeds, feedback (interests + votes), and both with votes. Beside them, what
the product was chosen over, each with its parameters tuned on the first 7 days: max / mean
cosine to the seeds, Rocchio (query + alpha * mean(liked) - beta * mean(disliked)) and kNN.
`--tune` also runs the product on a grid around its constants, to show they are the grid's
best on the tuning days. The figure is the mean over (profile, day) of the last 4 days, never
used to choose anything. Also prints how often a "because you liked" label is given to a
relevant paper, by similarity threshold (EXAMPLE_MIN_SIMILARITY is set from the tuning days).
Loads the model once; no database, no network. Prints figures, then one JSON line.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from digest import learning, ranking  # noqa: E402
from digest.embeddings import papers_embed, text_embed  # noqa: E402
from digest.eval import ndcg_at_k  # noqa: E402
from papers.sources import hf_api  # noqa: E402
from papers.sources.records import PaperRecord  # noqa: E402

K = 5
DATA = ROOT / "digest" / "eval" / "learn_dev"
REPORT_DAYS = ("2026-01-22", "2026-01-23", "2026-01-26", "2026-01-27")
TARGET_FEEDBACK = 0.85
TARGET_GAIN = 0.05
TARGET_SEEDS = 0.70
# Earlier papers used as weak negatives by the classifier: a fixed sample, so runs agree.
BACKGROUND_MAX = 150


@dataclass(frozen=True)
class Day:
    name: str
    pool: ranking.CandidatePool
    vectors: np.ndarray


@dataclass(frozen=True)
class Reader:
    key: str
    interests: str
    facet_vectors: np.ndarray
    seed_vectors: np.ndarray
    grades: dict[str, int]
    seed_titles: tuple[str, ...] = ()


@dataclass
class State:
    """What the ranking may know of a reader on a day: the run's inputs and the votes so far."""

    reader: Reader
    interests: bool
    seeds: bool
    liked: list[np.ndarray] = field(default_factory=list)
    disliked: list[np.ndarray] = field(default_factory=list)
    background: list[np.ndarray] = field(default_factory=list)
    liked_titles: list[str] = field(default_factory=list)


Scorer = Callable[[Day, State], np.ndarray]


def votes_cast(shown: Sequence[str], grades: dict[str, int]) -> tuple[list[str], list[str]]:
    """The protocol's votes on the papers shown: (thumbs up, thumbs down)."""
    up = [a for a in shown if grades.get(a, 0) >= 2]
    down = [a for a in shown if a not in grades]
    return up, down


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-12:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _text(day: Day, state: State) -> np.ndarray:
    """Today's blended score for the interests (zeros in a run without interests)."""
    if not state.interests:
        return np.zeros(len(day.pool.ids))
    reader = state.reader
    return day.pool._scores_for(reader.interests, reader.facet_vectors).scores


def _positives(state: State) -> list[np.ndarray]:
    seeds = list(state.reader.seed_vectors) if state.seeds else []
    return seeds + state.liked


def _blend(day: Day, state: State, learned: np.ndarray | None, w: float) -> np.ndarray:
    text = _text(day, state)
    if learned is None:
        return text
    if not state.interests:
        return learned
    return (1 - w) * text + w * _minmax(learned)


def seeds_scorer(*, how: str, w: float) -> Scorer:
    """Cosine to the seeds ("max" over them, or to their "mean"), blended with the text."""

    def score(day: Day, state: State) -> np.ndarray:
        seeds = state.reader.seed_vectors
        if how == "max":
            learned = (day.vectors @ seeds.T).max(axis=1)
        else:
            learned = day.vectors @ _unit(seeds.mean(axis=0))
        return _blend(day, state, learned, w)

    return score


def rocchio_scorer(*, alpha: float, beta: float, w: float) -> Scorer:
    """Cosine to query + alpha * mean(positives) - beta * mean(disliked), blended."""

    def score(day: Day, state: State) -> np.ndarray:
        parts: list[np.ndarray] = []
        if state.interests:
            parts.append(state.reader.facet_vectors.mean(axis=0))
        positives = _positives(state)
        if positives:
            parts.append(alpha * np.mean(positives, axis=0))
        if not parts:
            return _text(day, state)
        query = np.sum(parts, axis=0)
        if state.disliked:
            query = query - beta * np.mean(state.disliked, axis=0)
        return _blend(day, state, day.vectors @ _unit(query), w)

    return score


def knn_scorer(*, gamma: float, w: float) -> Scorer:
    """Max cosine to the positives minus gamma times the max to the disliked, blended."""

    def score(day: Day, state: State) -> np.ndarray:
        positives = _positives(state)
        if not positives and not state.disliked:
            return _text(day, state)
        learned = np.zeros(len(day.pool.ids))
        if positives:
            learned += (day.vectors @ np.array(positives).T).max(axis=1)
        if state.disliked:
            learned -= gamma * (day.vectors @ np.array(state.disliked).T).max(axis=1)
        return _blend(day, state, learned, w)

    return score


def state_profile(state: State) -> learning.LearnedProfile:
    """The product's profile (digest.learning) of what the reader taught so far in this run."""
    seeds = state.reader.seed_vectors if state.seeds else learning.empty()
    liked = np.array(state.liked) if state.liked else learning.empty()
    disliked = np.array(state.disliked) if state.disliked else learning.empty()
    signals = learning.Signals(
        facets=state.reader.facet_vectors if state.interests else learning.empty(),
        seeds=seeds,
        liked=liked,
        liked_weights=np.ones(len(liked)),
        disliked=disliked,
        disliked_weights=np.ones(len(disliked)),
        less=learning.empty(),
        background=np.array(state.background),
    )
    examples = [
        *(learning.Example(learning.ExampleKind.LIKED, "", t) for t in state.liked_titles),
        *(learning.Example(learning.ExampleKind.SEED, "", t) for t in state.reader.seed_titles),
    ][: len(liked) + len(seeds)]
    vectors = np.vstack([liked, seeds]) if len(examples) else None
    return learning.profile_learn(signals, examples=examples, example_vectors=vectors)


@dataclass
class Labels:
    """The product's example reasons given on a run: (cosine, grade) of each labelled pick."""

    given: list[tuple[str, float, int]] = field(default_factory=list)  # (day, cosine, grade)

    def precision(self, days: Sequence[str], threshold: float) -> tuple[float, int]:
        picked = [g for d, c, g in self.given if d in days and c >= threshold]
        return (sum(g > 0 for g in picked) / len(picked) if picked else 0.0), len(picked)


def product_scorer(labels: Labels | None = None) -> Scorer:
    """The product: CandidatePool.rank with the reader's LearnedProfile, as scores by rank."""

    def score(day: Day, state: State) -> np.ndarray:
        profile = state_profile(state)
        ranked = day.pool.rank(
            interests=state.reader.interests if state.interests else "",
            limit=K,
            facet_vectors=state.reader.facet_vectors if state.interests else None,
            profile=profile,
        )
        scores = np.full(len(day.pool.ids), -1.0)
        for position, r in enumerate(ranked):
            i = day.pool.index[r.arxiv_id]
            scores[i] = K - position
            nearest = profile.nearest_examples(day.vectors[i : i + 1])[0]
            if labels is not None and nearest is not None:
                grade = state.reader.grades.get(r.arxiv_id, 0)
                labels.given.append((day.name, nearest[1], grade))
        return scores

    return score


def cold_scorer(day: Day, state: State) -> np.ndarray:
    return _text(day, state)


@dataclass(frozen=True)
class Run:
    """One simulation: nDCG@5 by (profile, day), for the days that have a judged paper."""

    scores: dict[tuple[str, str], float]

    def mean(self, days: Sequence[str]) -> float:
        values = [v for (_, day), v in self.scores.items() if day in days]
        return sum(values) / len(values) if values else 0.0


def _order(day: Day, scores: np.ndarray) -> list[str]:
    """The day's ids by score, best first; ties by id, so two runs agree."""
    ids = day.pool.ids
    return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))]


def simulate(
    days: Sequence[Day],
    readers: Sequence[Reader],
    background: np.ndarray,
    scorer: Scorer,
    *,
    interests: bool,
    seeds: bool,
    votes: bool,
) -> Run:
    """The protocol for every reader; `votes=False` ranks each day from the sign-up alone.

    The weak negatives of a day are the BACKGROUND_PAPERS most recent papers before it (the
    earlier papers, then each day's as it passes), as the product takes the most recently seen
    stored papers.
    """
    scores: dict[tuple[str, str], float] = {}
    for reader in readers:
        state = State(reader, interests, seeds)
        recent = list(background)
        for day in days:
            state.background = recent[-learning.BACKGROUND_PAPERS :]
            shown = _order(day, scorer(day, state))[:K]
            day_grades = {a: g for a, g in reader.grades.items() if a in day.pool.index}
            if day_grades:
                scores[(reader.key, day.name)] = ndcg_at_k(shown, day_grades, K)
            if votes:
                up, down = votes_cast(shown, reader.grades)
                state.liked += [day.vectors[day.pool.index[a]] for a in up]
                state.liked_titles += [day.pool.papers[day.pool.index[a]].title for a in up]
                state.disliked += [day.vectors[day.pool.index[a]] for a in down]
            recent += list(day.vectors)
    return Run(scores)


def today_run(days: Sequence[Day], readers: Sequence[Reader]) -> Run:
    """Today's product ranking, through CandidatePool.rank (trending fallback included)."""
    scores: dict[tuple[str, str], float] = {}
    for reader in readers:
        for day in days:
            ranked = day.pool.rank(
                interests=reader.interests, limit=K, facet_vectors=reader.facet_vectors
            )
            day_grades = {a: g for a, g in reader.grades.items() if a in day.pool.index}
            if day_grades:
                scores[(reader.key, day.name)] = ndcg_at_k(
                    [r.arxiv_id for r in ranked], day_grades, K
                )
    return Run(scores)


def _load() -> tuple[list[Day], list[Reader], np.ndarray]:
    data = json.loads((DATA / "profiles.json").read_text(encoding="utf-8"))
    by_day: dict[str, list[PaperRecord]] = {
        name: hf_api.parse((DATA / "days" / f"{name}.json").read_bytes()).records
        for name in data["days"]
    }
    earlier = hf_api.parse((DATA / "seeds.json").read_bytes()).records
    everything = [p for papers in by_day.values() for p in papers] + earlier
    vectors = papers_embed(everything)  # loads the model, once
    days: list[Day] = []
    start = 0
    for name, papers in by_day.items():
        day_vectors = vectors[start : start + len(papers)]
        days.append(Day(name, ranking.CandidatePool(papers, day_vectors), day_vectors))
        start += len(papers)
    earlier_index = {p.arxiv_id: start + i for i, p in enumerate(earlier)}
    titles = {p.arxiv_id: p.title for p in earlier}
    all_seeds = {s for p in data["profiles"] for s in p["seeds"]}
    # Weak negatives: papers ingested before the first day that no reader named as a seed.
    pool = [earlier_index[p.arxiv_id] for p in earlier if p.arxiv_id not in all_seeds]
    picked = np.random.default_rng(0).choice(
        pool, size=min(BACKGROUND_MAX, len(pool)), replace=False
    )
    background = vectors[np.sort(picked)]
    readers = [
        Reader(
            key=p["key"],
            interests=p["interests"],
            facet_vectors=text_embed(ranking.interests_facets(p["interests"])),
            seed_vectors=vectors[[earlier_index[s] for s in p["seeds"]]],
            grades={a: int(g) for a, g in p["relevant"].items()},
            seed_titles=tuple(titles[s] for s in p["seeds"]),
        )
        for p in data["profiles"]
    ]
    return days, readers, background


@dataclass
class Result:
    name: str
    params: str
    tuning: float
    report: float


def _tune(
    name: str,
    grid: Mapping[str, Sequence[object]],
    make: Callable[..., Scorer],
    sim: Callable[[Scorer], Run],
    tuning_days: Sequence[str],
) -> tuple[Result, dict[str, object]]:
    """Every combination of the grid, best by the mean over the tuning days."""
    best: tuple[float, dict[str, object], Run] | None = None
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        params = dict(zip(keys, values, strict=True))
        run = sim(make(**params))
        figure = run.mean(tuning_days)
        if best is None or figure > best[0] + 1e-9:
            best = (figure, params, run)
    assert best is not None
    figure, params, run = best
    label = " ".join(f"{k}={v}" for k, v in params.items())
    return Result(name, label, figure, run.mean(REPORT_DAYS)), params


def product_figures() -> dict[str, float]:
    """nDCG@5 on the report days: cold, and the product's seeds-only, seeds, feedback runs."""
    days, readers, background = _load()

    def run(scorer: Scorer, *, interests: bool, seeds: bool, votes: bool) -> float:
        return simulate(
            days, readers, background, scorer, interests=interests, seeds=seeds, votes=votes
        ).mean(REPORT_DAYS)

    return {
        "cold": run(cold_scorer, interests=True, seeds=False, votes=False),
        "seeds_only": run(product_scorer(), interests=False, seeds=True, votes=False),
        "interests_seeds": run(product_scorer(), interests=True, seeds=True, votes=False),
        "feedback": run(product_scorer(), interests=True, seeds=False, votes=True),
        "interests_seeds_votes": run(product_scorer(), interests=True, seeds=True, votes=True),
    }


def _product_tune(sim: Callable[[Scorer], Run], tuning_days: Sequence[str]) -> Result:
    """The product's constants against a grid around them, best by the tuning days (--tune)."""
    grid = {"L2": [0.03, 0.1, 0.3], "WEIGHT_MAX": [0.6, 0.8, 1.0], "WEIGHT_HALF": [3.0, 10.0, 30.0]}
    saved = {name: getattr(learning, name) for name in grid}

    def make(**params: float) -> Scorer:
        for name, value in params.items():
            setattr(learning, name, value)
        return product_scorer()

    try:
        result, _ = _tune("feedback, product grid", grid, make, sim, tuning_days)
    finally:
        for name, value in saved.items():
            setattr(learning, name, value)
    return result


def main() -> None:
    started = time.perf_counter()
    days, readers, background = _load()
    tuning_days = [d.name for d in days if d.name not in REPORT_DAYS]
    print(
        f"{len(readers)} readers, {len(days)} days ({len(tuning_days)} tuning, "
        f"{len(REPORT_DAYS)} report), {len(background)} weak negatives; top {K}"
    )

    def runner(*, interests: bool, seeds: bool, votes: bool) -> Callable[[Scorer], Run]:
        def sim(scorer: Scorer) -> Run:
            return simulate(
                days, readers, background, scorer, interests=interests, seeds=seeds, votes=votes
            )

        return sim

    def result(name: str, run: Run, params: str = "") -> Result:
        return Result(name, params, run.mean(tuning_days), run.mean(REPORT_DAYS))

    results = [
        result("today (CandidatePool.rank)", today_run(days, readers)),
        result(
            "cold (interests only)", runner(interests=True, seeds=False, votes=False)(cold_scorer)
        ),
    ]
    # The product (digest.learning + CandidatePool.rank), with its constants.
    labels = Labels()
    product = {
        "seeds only": runner(interests=False, seeds=True, votes=False)(product_scorer()),
        "interests + seeds": runner(interests=True, seeds=True, votes=False)(product_scorer()),
        "feedback": runner(interests=True, seeds=False, votes=True)(product_scorer(labels)),
        "interests + seeds + votes": runner(interests=True, seeds=True, votes=True)(
            product_scorer()
        ),
        "seeds + votes": runner(interests=False, seeds=True, votes=True)(product_scorer()),
    }
    results += [result(f"product: {name}", run, "constants") for name, run in product.items()]
    if "--tune" in sys.argv:
        results.append(_product_tune(runner(interests=True, seeds=False, votes=True), tuning_days))
    # What the product was chosen over, each tuned on the tuning days.
    blend = [0.2, 0.35, 0.5, 0.65, 0.8]
    comparisons: list[tuple[str, Mapping[str, Sequence[object]], Callable[..., Scorer], bool]] = [
        ("seeds only, cosine", {"how": ["max", "mean"], "w": [1.0]}, seeds_scorer, False),
        (
            "feedback rocchio",
            {"alpha": [0.5, 1.0, 2.0, 4.0], "beta": [0.0, 0.5, 1.0], "w": blend},
            rocchio_scorer,
            True,
        ),
        ("feedback knn", {"gamma": [0.0, 0.5, 1.0], "w": blend}, knn_scorer, True),
    ]
    for name, grid, make, with_votes in comparisons:
        sim = runner(interests=with_votes, seeds=not with_votes, votes=with_votes)
        results.append(_tune(name, grid, make, sim, tuning_days)[0])

    print(f"\n{'run':<34} {'tuning':>7} {'report':>7}  parameters (chosen on tuning days)")
    for r in results:
        print(f"{r.name:<34} {r.tuning:7.4f} {r.report:7.4f}  {r.params}")
    print('\n"because you liked" labels of the feedback run: precision (count) by threshold')
    for threshold in (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8):
        tuning = labels.precision(tuning_days, threshold)
        report = labels.precision(REPORT_DAYS, threshold)
        print(
            f"  >= {threshold:.2f}: tuning {tuning[0]:.3f} ({tuning[1]}), "
            f"report {report[0]:.3f} ({report[1]})"
            + (
                "   <- EXAMPLE_MIN_SIMILARITY"
                if threshold == ranking.EXAMPLE_MIN_SIMILARITY
                else ""
            )
        )
    cold_report = results[1].report
    feedback = product["feedback"].mean(REPORT_DAYS)
    seeds_only = product["seeds only"].mean(REPORT_DAYS)
    print(
        f"\ntargets on the report days: feedback >= {TARGET_FEEDBACK} and >= cold + {TARGET_GAIN}"
        f" ({cold_report + TARGET_GAIN:.4f}): {feedback:.4f}; "
        f"seeds only >= {TARGET_SEEDS}: {seeds_only:.4f}; "
        f"cold {cold_report:.4f} vs today {results[0].report:.4f}"
    )
    print(f"{time.perf_counter() - started:.0f} s")
    summary: dict[str, object] = {
        r.name.replace(" ", "_"): {"tuning": round(r.tuning, 4), "report": round(r.report, 4)}
        for r in results
    }
    summary["targets_met"] = bool(
        feedback >= TARGET_FEEDBACK
        and feedback >= cold_report + TARGET_GAIN
        and seeds_only >= TARGET_SEEDS
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
