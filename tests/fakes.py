"""Stand-ins shared by the tests: a fast, deterministic embedding in place of the MiniLM model.

The ranking's quality is tested with the real model (tests/digest/test_ranking.py, test_eval.py);
everything else (the ledger, sending, the admin, the walk-through) only needs vectors in which
shared words mean similar texts, without the seconds the model takes to load.
"""

from __future__ import annotations

import hashlib

import numpy as np

from digest.embeddings import DIMENSIONS


def fake_embed(texts: list[str]) -> np.ndarray:
    """Unit vectors, one per text, from its words: shared words give similar vectors."""
    rows = []
    for text in texts:
        vector = np.zeros(DIMENSIONS, dtype=np.float32)
        for word in text.lower().replace(",", " ").replace(".", " ").split():
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIMENSIONS] += 1.0
        rows.append(vector / (np.linalg.norm(vector) or 1.0))
    return np.array(rows, dtype=np.float32).reshape(len(texts), DIMENSIONS)
