"""Personalized ranking: a day's candidates ordered for one reader's interests.

Three signals, each normalized over the candidates of this query so that their scales agree:

- semantic: cosine similarity of MiniLM embeddings, the max over the interests' facets (see
  interests_facets), because readers write interests in their own words and a paper on their
  topic may use none of them;
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
from typing import Protocol

import numpy as np

from digest.embeddings import PaperText, papers_embed, text_embed
from digest.learning import LESS_PENALTY, Example, ExampleKind, LearnedProfile
from digest.reasons import trending_reason

WEIGHT_SEMANTIC = 0.65
WEIGHT_LEXICAL = 0.25
WEIGHT_TRENDING = 0.10
# A pick is labelled "matches: <facet>" only when its MiniLM cosine to that facet reaches this.
# Set on the judged learn_dev data, tuning days only (`python bench/reason_eval.py`): the lowest
# threshold at which 3 in 4 labelled picks are relevant (0.755 at 0.50; at the old guess, 0.30,
# 0.40; with any interests word counting too, 0.32). Words alone do not make a match: top-5
# picks with an interests word and a cosine under 0.30 were relevant 14% of the time.
MATCH_MIN_SIMILARITY = 0.50
# Below this cosine, and with none of the interests' words, a candidate is not even related; when
# no candidate is, the digest is the day's trending papers, flagged. Deliberately lower than
# MATCH_MIN_SIMILARITY: the ranking still finds relevant papers between the two (falling back
# from 0.50 cut nDCG@5 on the learn_dev tuning days from 0.729 to 0.407), it just does not call
# them matches.
RELATED_MIN_SIMILARITY = 0.30
# A learned pick says "because you liked 'Title'" (or "like your paper 'Title'") only when its
# cosine to that paper reaches this: the lowest threshold at which 3 in 4 such labels went to
# relevant papers on the learn_dev tuning days (`python bench/learn_eval.py`: 0.87 at 0.70, 0.49
# at 0.50). Two papers' abstracts are closer than a paper and a short interests text, so the bar
# is higher than MATCH_MIN_SIMILARITY's.
EXAMPLE_MIN_SIMILARITY = 0.70
MAX_FACETS = 8
# Interests texts whose scores a pool keeps, least recently used out first: about 14 KB each for
# 100 candidates, so a worker's memory stays flat however many readers it serves.
_SCORES_KEPT = 2_000
_REASON_MAX_CHARS = 60
BM25_K1 = 1.2
BM25_B = 0.75

_FACET_SPLIT = re.compile(r"[,;\n|/]+|\s+(?:and|or|&|plus)\s+", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9][a-z0-9+#.-]*[a-z0-9+#]|[a-z0-9]")
# Words that say nothing about a topic, as subscribers write them ("papers on X and Y").
_STOPWORD_TEXT = """
a about all also an and any are as at be based by can do does for from how i in into is it its me
more my new not of on or other our papers paper so such than that the their them then there these
they this to us use used using via was we what when which who with you your
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class PaperLike(PaperText, Protocol):
    """What ranking reads of a paper: its text (what embedding reads), its id and its upvotes."""

    # Read-only properties, so that a frozen PaperRecord and a Paper model both qualify.
    @property
    def arxiv_id(self) -> str: ...
    @property
    def upvotes(self) -> int | None: ...


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
    # The facet of the reader's interests it matches by meaning; "" when not a match.
    matched: str = ""
    # The title of the paper the reader liked or gave as a seed that the reason names, if any.
    example: str = ""


@dataclass(frozen=True)
class RankingSignals:
    """Raw per-candidate signals, in the candidates' order."""

    facets: list[str]
    semantic: np.ndarray  # max cosine over facets
    best_facet: np.ndarray  # index into facets of that max
    lexical: np.ndarray  # BM25 score, 0 where no interests word occurs
    matched_words: dict[int, list[str]]  # by candidate: the interests' words it contains
    trending: np.ndarray  # log1p(upvotes)


def interests_facets(interests: str) -> list[str]:
    """The interests text, then its parts if a list ("speech and audio" -> +"speech", "audio").

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
    return [_plural_fold(word) for word in words if word not in _STOPWORDS]


def _plural_fold(word: str) -> str:
    """The singular of a plural in -s ("models" -> "model"), so that both spellings match."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _paper_words(paper: PaperLike) -> list[str]:
    keywords = " ".join(str(k) for k in (paper.ai_keywords or ()))
    return _tokens(" ".join((paper.title, paper.title, paper.ai_summary, paper.abstract, keywords)))


class Corpus:
    """Tokenized documents, indexed once so that a query visits only its words' postings."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        self.n = len(documents)
        lengths = np.array([len(doc) for doc in documents], dtype=np.float64)
        average = float(lengths.mean()) if self.n else 0.0
        # BM25's length normalization per document, which does not depend on the query.
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths / (average or 1.0))
        postings: dict[str, list[tuple[int, int]]] = {}
        for i, doc in enumerate(documents):
            for term, tf in Counter(doc).items():
                postings.setdefault(term, []).append((i, tf))
        # Per term: the documents that hold it, and each one's tf part of BM25, to scale by idf.
        self.postings: dict[str, tuple[np.ndarray, np.ndarray, list[int]]] = {}
        for term, hits in postings.items():
            index = np.array([i for i, _ in hits], dtype=np.int64)
            freqs = np.array([tf for _, tf in hits], dtype=np.float64)
            weight = freqs * (BM25_K1 + 1.0) / (freqs + norm[index])
            self.postings[term] = (index, weight, index.tolist())

    def bm25(self, query: str) -> tuple[np.ndarray, dict[int, list[str]]]:
        """BM25 of the query over the documents, and the query words in each (see bm25_scores)."""
        # Each folded term, and the reader's own word for it (a reason says "robots", not "robot").
        spelled: dict[str, str] = {}
        for word in _WORD.findall(query.lower()):
            if word not in _STOPWORDS:
                spelled.setdefault(_plural_fold(word), word)
        scores = np.zeros(self.n, dtype=np.float64)
        matched: dict[int, list[str]] = {}
        for term, word in spelled.items():
            posting = self.postings.get(term)
            if posting is None:
                continue
            index, weight, documents = posting
            df = len(documents)
            scores[index] += math.log(1.0 + (self.n - df + 0.5) / (df + 0.5)) * weight
            for i in documents:
                matched.setdefault(i, []).append(word)
        return scores, matched


def bm25_scores(
    query: str, documents: Sequence[Sequence[str]]
) -> tuple[np.ndarray, list[list[str]]]:
    """Okapi BM25 of the query's words over tokenized documents, and the query words each contains.

    The documents are tokenized as _tokens does. IDF is Lucene's
    log(1 + (N - df + 0.5) / (df + 0.5)), never negative, so a word in every candidate adds a
    little instead of subtracting.
    """
    scores, matched = Corpus(documents).bm25(query)
    return scores, [matched.get(i, []) for i in range(len(documents))]


class CandidatePool:
    """One issue's candidates, prepared once (embeddings, index, votes), ranked for many readers."""

    def __init__(self, papers: Sequence[PaperLike], vectors: np.ndarray | None = None) -> None:
        if vectors is not None and len(vectors) != len(papers):
            raise ValueError(f"{len(vectors)} vectors for {len(papers)} papers")
        self.papers = list(papers)
        self.ids = [p.arxiv_id for p in self.papers]
        self.upvotes = [max(p.upvotes or 0, 0) for p in self.papers]
        self._vectors = vectors
        self.corpus = Corpus([_paper_words(p) for p in self.papers])
        self.votes = np.array(self.upvotes, dtype=np.float64)
        self.trending = np.log1p(self.votes)
        self.id_rank = np.argsort(np.argsort(np.array(self.ids, dtype=object)))
        self.index = {arxiv_id: i for i, arxiv_id in enumerate(self.ids)}
        self._title_words = [frozenset(_tokens(p.title)) for p in self.papers]
        self._scores_by_interests: dict[str, _PoolScores] = {}
        self._outside: dict[tuple[str, ...], frozenset[str]] = {}
        # Fallback order: most upvoted first, ties by id, so two runs agree.
        self.by_votes = sorted(
            range(len(self.papers)), key=lambda i: (-self.upvotes[i], self.ids[i])
        )

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = papers_embed(self.papers)
        return self._vectors

    def signals(self, *, interests: str, facet_vectors: np.ndarray | None = None) -> RankingSignals:
        """The three raw signals of every candidate (`facet_vectors`: the facets' embeddings)."""
        facets = interests_facets(interests)
        n = len(self.papers)
        if facets and n:
            if facet_vectors is None:
                facet_vectors = text_embed(facets)
            if len(facet_vectors) != len(facets):
                raise ValueError(f"{len(facet_vectors)} vectors for {len(facets)} facets")
            similarity = self.vectors @ facet_vectors.T  # (papers, facets); unit vectors, so cosine
            semantic = similarity.max(axis=1).astype(np.float64)
            best_facet = similarity.argmax(axis=1)
        else:
            semantic = np.zeros(n)
            best_facet = np.zeros(n, dtype=np.int64)
        lexical, matched = self.corpus.bm25(interests)
        return RankingSignals(facets, semantic, best_facet, lexical, matched, self.trending)

    def outside_categories(self, categories: Sequence[str]) -> frozenset[str]:
        """Candidates in none of these arXiv categories; one with unknown ones (HF only) stays."""
        key = tuple(sorted(categories))
        outside = self._outside.get(key)
        if outside is None:
            wanted = set(key)
            outside = frozenset(
                p.arxiv_id
                for p in self.papers
                if (known := getattr(p, "categories", None)) and not wanted & set(known)
            )
            self._outside[key] = outside
        return outside

    def trending_top(
        self, *, limit: int, exclude_ids: set[str] | frozenset[str] = frozenset()
    ) -> list[Ranked]:
        """The most upvoted candidates, flagged as a fallback (nothing matched the reader)."""
        top = self.upvotes[self.by_votes[0]] if self.by_votes else 0
        picked: list[Ranked] = []
        for i in self.by_votes:
            if len(picked) >= limit:
                break
            if self.ids[i] in exclude_ids:
                continue
            votes = self.upvotes[i]
            score = round(math.log1p(votes) / math.log1p(top), 4) if top else 0.0
            picked.append(
                Ranked(
                    self.ids[i], self.papers[i].title, score, trending_reason(votes), votes, True
                )
            )
        return picked

    def rank(
        self,
        *,
        interests: str,
        limit: int,
        exclude_ids: set[str] | frozenset[str] = frozenset(),
        facet_vectors: np.ndarray | None = None,
        profile: LearnedProfile | None = None,
    ) -> list[Ranked]:
        """The `limit` best candidates, never one in `exclude_ids` (see candidates_rank).

        With a `profile` (what the reader taught the ranking, digest.learning), its classifier's
        score is blended in and "less of this" pushes papers down.
        """
        if limit <= 0:
            return []
        excluded = {self.index[a] for a in exclude_ids if a in self.index}
        if len(excluded) == len(self.ids):
            return []
        if profile is not None and (profile.learns or profile.less_vectors is not None):
            return self._rank_learned(
                interests=interests,
                limit=limit,
                excluded=excluded,
                facet_vectors=facet_vectors,
                profile=profile,
            )
        if not interests.strip():
            return self.trending_top(limit=limit, exclude_ids=exclude_ids)
        # Signals are normalized over the whole pool, excluded papers included, so that what was
        # already sent does not shift the others' scores: the order is the full ranking minus them.
        scored = self._scores_for(interests, facet_vectors)
        if scored.matches_nothing(excluded=excluded):
            return self.trending_top(limit=limit, exclude_ids=exclude_ids)
        return [self._ranked(scored, i) for i in scored.top(limit=limit, excluded=excluded)]

    def _rank_learned(
        self,
        *,
        interests: str,
        limit: int,
        excluded: set[int],
        facet_vectors: np.ndarray | None,
        profile: LearnedProfile,
    ) -> list[Ranked]:
        """The best candidates by the text and the reader's learned profile (see rank)."""
        text = self._scores_for(interests, facet_vectors) if interests.strip() else None
        fallback = False
        if profile.learns:
            learned = _minmax(profile.learned_scores(self.vectors))
            if text is not None:
                weight = profile.blend_weight
                base = (1 - weight) * text.scores + weight * learned
            else:
                base = (1 - WEIGHT_TRENDING) * learned + WEIGHT_TRENDING * _over_max(self.trending)
        elif text is not None and not text.matches_nothing(excluded=excluded):
            base = text.scores
        else:
            # Only "less of this": the day's most upvoted papers, minus what the reader avoids.
            fallback = text is not None
            base = _over_max(self.trending)
        scores = base - self._less_penalty(profile)
        order = np.lexsort((self.id_rank, -self.votes, -scores)).tolist()
        # A paper the reader liked or gave as a seed is one they know: never picked for them.
        known = {self.index[e.arxiv_id] for e in profile.examples if e.arxiv_id in self.index}
        top = [i for i in order if i not in excluded and i not in known][:limit]
        nearest = profile.nearest_examples(self.vectors[top]) if top else []
        return [
            self._ranked_learned(
                text, i, score=float(scores[i]), fallback=fallback, nearest=nearest[n]
            )
            for n, i in enumerate(top)
        ]

    def _less_penalty(self, profile: LearnedProfile) -> np.ndarray:
        """What each candidate loses to "less of this" (by meaning, or all for a title word)."""
        penalty = profile.less_penalty(self.vectors)
        words = frozenset(_tokens(profile.less_text))
        if words:
            in_title = np.array([bool(words & title) for title in self._title_words])
            penalty = np.maximum(penalty, LESS_PENALTY * in_title)
        return penalty

    def _ranked_learned(
        self,
        text: _PoolScores | None,
        i: int,
        *,
        score: float,
        fallback: bool,
        nearest: tuple[Example, float] | None,
    ) -> Ranked:
        """Candidate `i` as ranked with a profile: its reason names a facet or a liked paper."""
        upvotes = self.upvotes[i]
        reason, matched, example = trending_reason(upvotes), "", ""
        facet_similarity = float(text.signals.semantic[i]) if text is not None else 0.0
        if nearest is not None and nearest[1] >= max(EXAMPLE_MIN_SIMILARITY, facet_similarity):
            example = nearest[0].title
            reason = _example_reason(nearest[0].kind, example)
        elif text is not None and not fallback:
            reason = _match_reason(text.signals, i, upvotes)
            matched = _matched(text.signals, i)
        return Ranked(
            arxiv_id=self.ids[i],
            title=self.papers[i].title,
            score=round(score, 4),
            reason=reason,
            upvotes=upvotes,
            fallback=fallback,
            matched=matched,
            example=example,
        )

    def _ranked(self, scored: _PoolScores, i: int) -> Ranked:
        """Candidate `i` as ranked for the interests `scored` holds, with its reason."""
        return Ranked(
            arxiv_id=self.ids[i],
            title=self.papers[i].title,
            score=round(float(scored.scores[i]), 4),
            reason=_match_reason(scored.signals, i, self.upvotes[i]),
            upvotes=self.upvotes[i],
            matched=_matched(scored.signals, i),
        )

    def _scores_for(self, interests: str, facet_vectors: np.ndarray | None) -> _PoolScores:
        """The pool scored for an interests text, kept: readers with the same words share it."""
        scored = self._scores_by_interests.pop(interests, None)
        if scored is not None:
            self._scores_by_interests[interests] = scored  # most recently used last
        else:
            signals = self.signals(interests=interests, facet_vectors=facet_vectors)
            scores = signals_blend(signals)
            # Best score first; ties by votes, then by id, so that two runs agree.
            order = np.lexsort((self.id_rank, -self.votes, -scores)).tolist()
            scored = _PoolScores(
                signals, scores, order, float(signals.semantic.max()), float(signals.lexical.max())
            )
            if len(self._scores_by_interests) >= _SCORES_KEPT:
                self._scores_by_interests.pop(next(iter(self._scores_by_interests)))
            self._scores_by_interests[interests] = scored
        return scored


@dataclass(frozen=True)
class _PoolScores:
    """The whole pool scored for one interests text, with its order and its best raw signals."""

    signals: RankingSignals
    scores: np.ndarray
    order: list[int]  # every candidate, best first
    best_semantic: float
    best_lexical: float

    def matches_nothing(self, *, excluded: set[int]) -> bool:
        """True when no candidate left is related to the interests nor holds one of their words."""
        if excluded:
            keep = np.ones(len(self.order), dtype=bool)
            keep[list(excluded)] = False
            best_semantic = self.signals.semantic[keep].max()
            best_lexical = self.signals.lexical[keep].max()
        else:
            best_semantic, best_lexical = self.best_semantic, self.best_lexical
        return float(best_semantic) < RELATED_MIN_SIMILARITY and not float(best_lexical) > 0

    def top(self, *, limit: int, excluded: set[int]) -> list[int]:
        """The `limit` best candidates' indexes, leaving out the excluded."""
        if not excluded:
            return self.order[:limit]
        return [i for i in self.order if i not in excluded][:limit]


def signals_compute(
    *, interests: str, papers: Sequence[PaperLike], vectors: np.ndarray | None = None
) -> RankingSignals:
    """The three raw signals for every paper; `vectors` are the papers' precomputed embeddings."""
    return CandidatePool(papers, vectors).signals(interests=interests)


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


def signals_blend(signals: RankingSignals) -> np.ndarray:
    """The blended score of each paper, in [0, 1]."""
    return (
        WEIGHT_SEMANTIC * _minmax(signals.semantic)
        + WEIGHT_LEXICAL * _over_max(signals.lexical)
        + WEIGHT_TRENDING * _over_max(signals.trending)
    )


def _reason_shorten(text: str) -> str:
    if len(text) <= _REASON_MAX_CHARS:
        return text
    return text[: _REASON_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _matched(signals: RankingSignals, i: int) -> str:
    """The facet candidate `i` matches by meaning, or "" when it is not a match.

    Sharing a word with the interests is not enough: "LLM" or "3D" occur in papers on every
    other topic (see MATCH_MIN_SIMILARITY).
    """
    if signals.semantic[i] >= MATCH_MIN_SIMILARITY:
        return signals.facets[int(signals.best_facet[i])]
    return ""


def _example_reason(kind: str, title: str) -> str:
    """Why a paper close to one the reader liked, or gave as a seed, was picked."""
    quoted = f"‘{_reason_shorten(title)}’"
    return (
        f"because you liked {quoted}" if kind == ExampleKind.LIKED else f"like your paper {quoted}"
    )


def _match_reason(signals: RankingSignals, i: int, upvotes: int) -> str:
    """Why candidate `i` was picked: the facet it matched, else its votes if worth saying."""
    if matched := _matched(signals, i):
        return f"matches: {_reason_shorten(matched)}"
    return trending_reason(upvotes)


def candidates_trending(
    *, papers: Sequence[PaperLike], limit: int, exclude_ids: set[str] | frozenset[str] = frozenset()
) -> list[Ranked]:
    """The most upvoted candidates, flagged as a fallback (nothing was matched to the reader)."""
    return CandidatePool(papers, np.zeros((len(papers), 0))).trending_top(
        limit=limit, exclude_ids=exclude_ids
    )


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
    related to them (best similarity under RELATED_MIN_SIMILARITY and none has one of their
    words), the result is the top trending papers with `fallback` set. Only a pick whose
    similarity reaches MATCH_MIN_SIMILARITY is labelled a match (`matched` names the facet).
    A digest ranks many readers over one day's papers: build a CandidatePool once and call its
    rank() instead.
    """
    return CandidatePool(papers, vectors).rank(
        interests=interests, limit=limit, exclude_ids=exclude_ids
    )
