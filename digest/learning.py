"""What the ranking learns of each reader: a small classifier on paper embeddings, per reader.

The method was chosen by measurement on the judged learn_dev data (`python bench/learn_eval.py`;
parameters set on its first 7 days, figures from the last 4): an L2-regularized logistic
regression over the MiniLM embeddings, in the spirit of Scholar Inbox. Its positives are the
interests' facets, the seeds and the papers voted "more like this" (a tracked click counts a
quarter); its negatives the papers voted "less like this", and the most recent papers as weak
negatives, which together weigh BACKGROUND_WEIGHT: a baseline of "what a paper looks like" that
the reader's own few votes are not drowned by. Votes fade with age (VOTE_HALF_LIFE_DAYS).

The learned score is blended with the interests' text score by a weight that grows with the
reader's signals, WEIGHT_MAX * n / (n + WEIGHT_HALF): a few votes move the ranking a little, many
move it a lot. On the report days this reached nDCG@5 0.848 after feedback (cold: 0.756), where
a plain Rocchio update tuned the same way reached 0.811 and kNN 0.792; seeds alone 0.739 (mean
cosine to the seeds: 0.657). L2, WEIGHT_MAX and WEIGHT_HALF are the best of a 27-point grid on the
tuning days (`python bench/learn_eval.py --tune`).

"Less of this" is not learned: papers close to its facets lose up to LESS_PENALTY of their score,
from a cosine of LESS_FROM (merely related) to LESS_FULL (a match), and a paper with one of its
words in its title loses all of it. By meaning alone a one-word text is blurry: on the learn_dev
papers "benchmarks, surveys" lowered 13 of the 33 papers with "benchmark" or "survey" in their
title, and 21 of the other 287 (agents, evaluation frameworks); the title's words are exact.

The fit runs in the worker when a reader's signals change (digest.tasks.reader_profile_refresh),
never in a web request nor during a send; a batch reads its readers' profiles in one query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digest.embeddings import DIMENSIONS

L2 = 0.3
BACKGROUND_WEIGHT = 16.0
BACKGROUND_PAPERS = 150
WEIGHT_MAX = 0.8
WEIGHT_HALF = 10.0
VOTE_HALF_LIFE_DAYS = 120.0
CLICK_WEIGHT = 0.25
# The liked papers and seeds kept for reasons ("because you liked 'Title'"), most recent first.
EXAMPLES_MAX = 40
LESS_PENALTY = 0.5
LESS_FROM = 0.30
LESS_FULL = 0.50
_MAX_ITERATIONS = 200


class ExampleKind:
    LIKED = "liked"
    SEED = "seed"


@dataclass(frozen=True)
class Example:
    """A paper the reader liked or gave as a seed, named in the reasons of papers close to it."""

    kind: str  # ExampleKind
    arxiv_id: str  # "" for a text seed (a BibTeX entry without an arXiv id)
    title: str


@dataclass(frozen=True)
class Signals:
    """What a reader taught the ranking, as unit embeddings (rows) and per-row weights."""

    facets: np.ndarray  # the interests' facets
    seeds: np.ndarray
    liked: np.ndarray
    liked_weights: np.ndarray
    disliked: np.ndarray
    disliked_weights: np.ndarray
    less: np.ndarray  # the "less of this" text's facets
    background: np.ndarray  # recent papers, weak negatives

    @property
    def count(self) -> float:
        """How much the reader taught beyond the interests text: seeds and votes (clicks a bit)."""
        return float(len(self.seeds) + self.liked_weights.sum() + self.disliked_weights.sum())


def empty() -> np.ndarray:
    return np.zeros((0, DIMENSIONS), dtype=np.float32)


def vote_weights(ages_days: Sequence[float], *, base: float = 1.0) -> np.ndarray:
    """Each vote's weight: `base`, halved every VOTE_HALF_LIFE_DAYS of age."""
    ages = np.maximum(np.asarray(ages_days, dtype=np.float64), 0.0)
    return base * np.power(0.5, ages / VOTE_HALF_LIFE_DAYS)


def age_days(when: dt.datetime, now: dt.datetime) -> float:
    return (now - when).total_seconds() / 86_400


def logistic_fit(
    features: np.ndarray, labels: np.ndarray, weights: np.ndarray, *, l2: float = L2
) -> np.ndarray:
    """L2-regularized weighted logistic regression: the weights, then the bias (not shrunk).

    scikit-learn's L-BFGS solver, which minimizes sum(weight * log loss) + l2 / 2 * |w|^2 (its
    C is 1 / l2); a few hundred rows of 384 dimensions take a few milliseconds.
    """
    # Imported here, like the embedding model: scikit-learn costs a second and 100 MB to import,
    # and only the worker's refit needs it, never the web process nor a send.
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    model = LogisticRegression(C=1.0 / l2, solver="lbfgs", max_iter=_MAX_ITERATIONS)
    model.fit(features, labels, sample_weight=weights)
    return np.concatenate([model.coef_[0], model.intercept_]).astype(np.float64)


@dataclass(frozen=True)
class LearnedProfile:
    """One reader's learned state: the classifier, the examples for reasons, "less of this"."""

    weights: np.ndarray  # (DIMENSIONS + 1,): the classifier's weights, then its bias; or empty
    signals: float
    examples: tuple[Example, ...] = ()
    example_vectors: np.ndarray | None = None  # (len(examples), DIMENSIONS)
    less_vectors: np.ndarray | None = None
    less_text: str = ""  # the "less of this" text itself: its words in a title push a paper down

    @property
    def learns(self) -> bool:
        """Whether the classifier has anything to say (seeds or votes, not only "less of this")."""
        return len(self.weights) == DIMENSIONS + 1 and self.signals > 0

    @property
    def blend_weight(self) -> float:
        """How much the learned score weighs against the interests' text score."""
        if not self.learns:
            return 0.0
        return WEIGHT_MAX * self.signals / (self.signals + WEIGHT_HALF)

    def learned_scores(self, vectors: np.ndarray) -> np.ndarray:
        """The classifier's score (a logit) of each paper, by its embedding."""
        if not self.learns:
            return np.zeros(len(vectors))
        return (vectors @ self.weights[:-1] + self.weights[-1]).astype(np.float64)

    def less_penalty(self, vectors: np.ndarray) -> np.ndarray:
        """What each paper loses for being near the "less of this" facets (0 to LESS_PENALTY)."""
        if self.less_vectors is None or not len(self.less_vectors) or not len(vectors):
            return np.zeros(len(vectors))
        closeness = (vectors @ self.less_vectors.T).max(axis=1).astype(np.float64)
        return LESS_PENALTY * np.clip((closeness - LESS_FROM) / (LESS_FULL - LESS_FROM), 0.0, 1.0)

    def nearest_examples(self, vectors: np.ndarray) -> list[tuple[Example, float] | None]:
        """For each of these papers' embeddings, the nearest liked paper or seed and the cosine."""
        if self.example_vectors is None or not len(self.examples) or not len(vectors):
            return [None] * len(vectors)
        similarity = vectors @ self.example_vectors.T  # (papers, examples)
        best = similarity.argmax(axis=1)
        return [
            (self.examples[int(j)], float(similarity[i, j])) for i, j in enumerate(best.tolist())
        ]


def profile_learn(
    signals: Signals,
    *,
    examples: Sequence[Example] = (),
    example_vectors: np.ndarray | None = None,
    less_text: str = "",
) -> LearnedProfile:
    """Fit the reader's classifier (see the module's docstring) into a profile."""
    positives = [signals.facets, signals.seeds, signals.liked]
    positive_weights = [
        np.ones(len(signals.facets)),
        np.ones(len(signals.seeds)),
        signals.liked_weights,
    ]
    count = signals.count
    if count <= 0 or not sum(len(rows) for rows in positives):
        weights = np.zeros(0)
    else:
        background = signals.background
        # Each weak negative weighs the same however many there are: in a young database with a
        # dozen papers, sharing out BACKGROUND_WEIGHT would make each outweigh a vote.
        share = BACKGROUND_WEIGHT / BACKGROUND_PAPERS
        rows = np.vstack([*positives, signals.disliked, background])
        labels = np.concatenate(
            [
                np.ones(sum(len(r) for r in positives)),
                np.zeros(len(signals.disliked) + len(background)),
            ]
        )
        weights_by_row = np.concatenate(
            [*positive_weights, signals.disliked_weights, np.full(len(background), share)]
        )
        if labels.min() == labels.max():
            # No negative at all (a database with no other paper yet): closeness to the positives.
            weights = np.concatenate([np.vstack(positives).mean(axis=0), [0.0]])
        else:
            weights = logistic_fit(rows, labels, weights_by_row, l2=L2)
    return LearnedProfile(
        weights=weights.astype(np.float32),
        signals=count,
        examples=tuple(examples),
        example_vectors=example_vectors,
        less_vectors=signals.less if len(signals.less) else None,
        less_text=less_text,
    )
