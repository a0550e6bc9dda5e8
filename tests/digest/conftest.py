"""The dev judgments and their candidates, embedded once per test session (the model loads once).

The team channels' stub DNS (channel_dns) is in tests/conftest.py: the security fuzz uses it too."""

from __future__ import annotations

import pytest

from digest.embeddings import papers_embed
from digest.eval import profiles_load
from tests.helpers import Judged


@pytest.fixture(scope="session")
def judged() -> Judged:
    profiles, papers = profiles_load()
    return Judged(profiles, papers, papers_embed(papers))
