"""Personalized ranking: a day's candidates ordered for one reader's interests.

Three signals, each normalized over the candidates of this query so that their scales agree:

- semantic: cosine similarity of MiniLM embeddings (decision 4: rank by meaning), the max over
  the interests' facets (see interests_facets);
- lexical: Okapi BM25 of the interests' words over the candidates, which rewards a reader's
  exact terms ("LoRA", "SAM 2") that a small embedding model may blur;
- trending: log(1 + upvotes), since votes are heavy-tailed and 400 is not 40x better than 10.

The weights are set by what each signal is for, not fitted to the dev judgments (one small
sample; the ranking is judged on others): meaning leads, words corroborate, and votes only
break near-ties, too light to lift an off-topic paper over an on-topic one.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from digest.embeddings import papers_embed, text_embed

WEIGHT_SEMANTIC = 0.65
WEIGHT_LEXICAL = 0.25
WEIGHT_TRENDING = 0.10
# MiniLM cosines between unrelated texts sit around 0.0-0.2; a paper on the topic scores 0.35+
# against a short interests text. Below this, no candidate is about the reader's interests.
MATCH_MIN_SIMILARITY = 0.30
MAX_FACETS = 8
_REASON_MAX_CHARS = 60
BM25_K1 = 1.2
BM25_B = 0.75

_FACET_SPLIT = re.compile(r"[,;\n|/]+|\s+(?:and|or|&|plus)\s+", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9][a-z0-9+#.-]*[a-z0-9+#]|[a-z0-9]")
# Words that say nothing about a topic, as subscribers write them ("papers on X and Y").
_STOPWORD_TEXT = """a about all also an and any are as at be based by can do does for from how i in into is it its
me more my new not of on or other our papers paper so such than that the their them then there these they
this to us use used using via was we what when which who with you your"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class PaperLike(Protocol):
    arxiv_id: str
    title: str
    abstract: str
    ai_summary: str
    ai_keywords: Any
    upvotes: int | None


@dataclass(frozen=True)
class Ranked:
    arxiv_id: str
    title: str
    score: float
    reason: str
    upvotes: int
    # True when nothing matched the interests and these are simply the day's top trending
    # papers: the email says so instead of pretending they were picked for the reader.
    fallback: bool = False


@dataclass(frozen=True)
class Signals:
    """Raw per-candidate signals, in the candidates' order."""

    facets: list[str]
    semantic: np.ndarray  # max cosine over facets
    best_facet: np.ndarray  # index into facets of that max
    lexical: np.ndarray  # BM25 score, 0 where no interests word occurs
    matched_words: list[list[str]]
    trending: np.ndarray  # log1p(upvotes)


def interests_facets(interests: str) -> list[str]:
    """The interests text, then its parts when it is a list ("speech and audio" -> +"speech", "audio").

    Subscribers write lists, and a list means "any of these": a paper squarely on one item
    is a match even if it has nothing to do with the others, but one embedding of the whole
    list lands between its items and is close to none. Scoring each paper by its best facet
    keeps that. The whole text stays a facet because "and" also joins one idea ("vision and
    language models"), whose meaning only the whole text carries.
    """
    whole = " ".join(interests.split())
    if not whole:
        return []
    parts = [" ".join(part.split()) for part in _FACET_SPLIT.split(whole)]
    facets = [whole, *(part for part in parts if part and part.lower() != whole.lower())]
    return list(dict.fromkeys(facets))[:MAX_FACETS]


def _tokens(text: str) -> list[str]:
    """Lower-cased words without stopwords, plural -s folded ("models" = "model")."""
    words = _WORD.findall(text.lower())
    return [_fold(word) for word in words if word not in _STOPWORDS]


def _fold(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _paper_words(paper: PaperLike) -> list[str]:
    keywords = " ".join(str(k) for k in (paper.ai_keywords or ()))
    return _tokens(" ".join((paper.title, paper.title, paper.ai_summary, paper.abstract, keywords)))


def bm25_scores(query: str, documents: Sequence[Sequence[str]]) -> tuple[np.ndarray, list[list[str]]]:
    """Okapi BM25 of the query's words over tokenized documents (see _tokens), and the query words each contains.

    IDF is Lucene's log(1 + (N - df + 0.5) / (df + 0.5)), never negative, so a word in every
    candidate adds a little instead of subtracting.
    """
    # Each folded term, and the reader's own word for it (a reason says "robots", not "robot").
    spelled: dict[str, str] = {}
    for word in _WORD.findall(query.lower()):
        if word not in _STOPWORDS:
            spelled.setdefault(_fold(word), word)
    terms = list(spelled)
    n = len(documents)
    scores = np.zeros(n, dtype=np.float64)
    matched: list[list[str]] = [[] for _ in range(n)]
    if not terms or not n:
        return scores, matched
    counts = [Counter(doc) for doc in documents]
    lengths = np.array([len(doc) for doc in documents], dtype=np.float64)
    average = float(lengths.mean()) or 1.0
    for term in terms:
        df = sum(1 for c in counts if term in c)
        if not df:
            continue
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        for i, c in enumerate(counts):
            tf = c.get(term, 0)
            if tf:
                norm = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths[i] / average)
                scores[i] += idf * tf * (BM25_K1 + 1.0) / (tf + norm)
                matched[i].append(spelled[term])
    return scores, matched


def signals_compute(*, interests: str, papers: Sequence[PaperLike], vectors: np.ndarray | None = None) -> Signals:
    """The three raw signals for every paper; `vectors` are the papers' precomputed embeddings."""
    facets = interests_facets(interests)
    n = len(papers)
    if facets and n:
        if vectors is None:
            vectors = papers_embed(papers)
        similarity = vectors @ text_embed(facets).T  # (papers, facets); unit vectors, so cosine
        semantic = similarity.max(axis=1).astype(np.float64)
        best_facet = similarity.argmax(axis=1)
    else:
        semantic = np.zeros(n)
        best_facet = np.zeros(n, dtype=np.int64)
    lexical, matched = bm25_scores(interests, [_paper_words(p) for p in papers])
    trending = np.log1p(np.array([max(p.upvotes or 0, 0) for p in papers], dtype=np.float64))
    return Signals(facets, semantic, best_facet, lexical, matched, trending)


def _minmax(values: np.ndarray) -> np.ndarray:
    if not len(values):
        return values
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-12:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def _over_max(values: np.ndarray) -> np.ndarray:
    """Scaled to [0, 1] by the best; a zero (no word of the interests) stays zero."""
    high = float(values.max()) if len(values) else 0.0
    return values / high if high > 0 else np.zeros_like(values)


def signals_blend(signals: Signals) -> np.ndarray:
    """The blended score of each paper, in [0, 1]."""
    return (
        WEIGHT_SEMANTIC * _minmax(signals.semantic)
        + WEIGHT_LEXICAL * _over_max(signals.lexical)
        + WEIGHT_TRENDING * _over_max(signals.trending)
    )


def _shorten(text: str) -> str:
    if len(text) <= _REASON_MAX_CHARS:
        return text
    return text[: _REASON_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _trending_reason(upvotes: int) -> str:
    return f"trending: {upvotes} upvote{'' if upvotes == 1 else 's'}"


def _reason(signals: Signals, i: int, upvotes: int) -> str:
    if signals.semantic[i] >= MATCH_MIN_SIMILARITY:
        return f"matches: {_shorten(signals.facets[int(signals.best_facet[i])])}"
    if signals.matched_words[i]:
        return f"matches: {_shorten(', '.join(signals.matched_words[i]))}"
    return _trending_reason(upvotes)


def candidates_trending(
    *, papers: Sequence[PaperLike], limit: int, exclude_ids: set[str] | frozenset[str] = frozenset()
) -> list[Ranked]:
    """The most upvoted candidates, flagged as a fallback (nothing was matched to the reader)."""
    kept = [p for p in papers if p.arxiv_id not in exclude_ids]
    kept.sort(key=lambda p: (-(p.upvotes or 0), p.arxiv_id))
    top = max((p.upvotes or 0 for p in kept), default=0)
    return [
        Ranked(
            arxiv_id=p.arxiv_id,
            title=p.title,
            score=round(math.log1p(p.upvotes or 0) / math.log1p(top), 4) if top else 0.0,
            reason=_trending_reason(p.upvotes or 0),
            upvotes=p.upvotes or 0,
            fallback=True,
        )
        for p in kept[:limit]
    ]


def candidates_rank(
    *,
    interests: str,
    papers: Sequence[PaperLike],
    limit: int,
    exclude_ids: set[str] | frozenset[str] = frozenset(),
    vectors: np.ndarray | None = None,
) -> list[Ranked]:
    """The `limit` best candidates for these interests, best first, never one in `exclude_ids`.

    `vectors`, if given, are the papers' embeddings in the same order (computed at ingest), so
    ranking costs one embedding of the interests. With no interests, or when no candidate is
    near them (best similarity under MATCH_MIN_SIMILARITY and none has one of their words),
    the result is the top trending papers with `fallback` set.
    """
    if vectors is not None and len(vectors) != len(papers):
        raise ValueError(f"{len(vectors)} vectors for {len(papers)} papers")
    keep = [i for i, p in enumerate(papers) if p.arxiv_id not in exclude_ids]
    if limit <= 0 or not keep:
        return []
    if not interests.strip():
        return candidates_trending(papers=papers, limit=limit, exclude_ids=exclude_ids)
    # Signals are normalized over the whole day, excluded papers included, so that what was
    # already sent does not shift the others' scores: the order is the full ranking minus them.
    signals = signals_compute(interests=interests, papers=papers, vectors=vectors)
    if float(signals.semantic[keep].max()) < MATCH_MIN_SIMILARITY and not float(signals.lexical[keep].max()) > 0:
        return candidates_trending(papers=papers, limit=limit, exclude_ids=exclude_ids)
    scores = signals_blend(signals)
    upvotes = [p.upvotes or 0 for p in papers]
    order = sorted(keep, key=lambda i: (-scores[i], -upvotes[i], papers[i].arxiv_id))
    return [
        Ranked(
            arxiv_id=papers[i].arxiv_id,
            title=papers[i].title,
            score=round(float(scores[i]), 4),
            reason=_reason(signals, i, upvotes[i]),
            upvotes=upvotes[i],
        )
        for i in order[:limit]
    ]
