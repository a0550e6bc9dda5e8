"""Stored embeddings: each text embedded once, kept in TextEmbedding under a hash of model and text.

Papers are embedded by the worker after an ingest commits, and an interests text's facets when
a reader sets or changes them (digest.tasks); sending only reads them back. Keying by text
rather than by paper or reader means a changed abstract gets a new vector, and a thousand
readers who all wrote "LLM agents" share one.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

from digest.embeddings import DIMENSIONS, PaperText, paper_text, text_embed
from digest.models import TextEmbedding
from digest.ranking import interests_facets

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_CACHE_MAX = 20_000  # about 30 MB of float32 vectors per process
_cache: OrderedDict[str, np.ndarray] = OrderedDict()


def text_key(text: str) -> str:
    """The TextEmbedding key of a text: sha256 of the model's name and the text."""
    return hashlib.sha256(f"{MODEL_NAME}\0{text}".encode()).hexdigest()


def _remember(key: str, vector: np.ndarray) -> None:
    _cache[key] = vector
    _cache.move_to_end(key)
    if len(_cache) > _CACHE_MAX:
        _cache.popitem(last=False)


def cache_clear() -> None:
    """Forget the vectors this process holds (tests; a worker never needs to)."""
    _cache.clear()


def vectors_get(*, texts: Sequence[str], compute: bool = True) -> np.ndarray:
    """The embeddings of these texts, one row each: from memory, the table, or (compute) the model.

    Texts missing from the table are embedded and stored when `compute` is true (worker and
    commands only: that loads the model); otherwise a LookupError names how many are missing.
    """
    keys = [text_key(text) for text in texts]
    wanted = {key for key in keys if key not in _cache}
    if wanted:
        for key, vector in TextEmbedding.objects.filter(key__in=wanted).values_list(
            "key", "vector"
        ):
            _remember(key, np.frombuffer(bytes(vector), dtype="<f4"))
    missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in _cache}
    if missing:
        if not compute:
            raise LookupError(f"{len(missing)} of {len(texts)} texts have no stored embedding")
        _embed_and_store(missing)
    if not keys:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return np.vstack([_cache[key] for key in keys])


def _embed_and_store(missing: dict[str, str]) -> None:
    """Embed these texts (by key), store their vectors, and keep them in memory."""
    keys = list(missing)
    vectors = text_embed([missing[key] for key in keys])
    rows = [
        TextEmbedding(key=key, vector=vector.astype("<f4").tobytes())
        for key, vector in zip(keys, vectors, strict=True)
    ]
    # Two workers may embed the same text at once: the first row wins, and both vectors are equal.
    TextEmbedding.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    for key, vector in zip(keys, vectors, strict=True):
        _remember(key, vector)


def papers_vectors(*, papers: Iterable[PaperText], compute: bool = True) -> np.ndarray:
    """The papers' embeddings, in order (see digest.embeddings.paper_text)."""
    return vectors_get(texts=[paper_text(paper) for paper in papers], compute=compute)


def facets_vectors(*, interests: str, compute: bool = True) -> np.ndarray:
    """The embeddings of an interests text's facets (see digest.ranking.interests_facets)."""
    return vectors_get(texts=interests_facets(interests), compute=compute)


def interests_texts_store(*, interests: Iterable[str]) -> int:
    """Store the missing embeddings of these interests texts' facets; how many distinct facets."""
    texts = list(dict.fromkeys(facet for text in interests for facet in interests_facets(text)))
    vectors_get(texts=texts)
    return len(texts)
