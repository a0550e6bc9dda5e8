"""The dev judgments and their candidates, embedded once per test session (the model loads once)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from digest.embeddings import papers_embed
from digest.eval import Profile, profiles_load
from papers.sources.records import PaperRecord

CANDIDATES = "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"


@dataclass(frozen=True)
class Judged:
    profiles: list[Profile]
    papers: list[PaperRecord]
    vectors: np.ndarray


@pytest.fixture(scope="session")
def judged() -> Judged:
    profiles, papers = profiles_load()
    return Judged(profiles, papers, papers_embed(papers))
