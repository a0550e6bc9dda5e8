"""The dev judgments and their candidates, embedded once per test session (the model loads once)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import pytest

from digest.embeddings import papers_embed
from digest.eval import Profile, profiles_load
from digest.models import Issue, IssuePin
from papers.ingest import papers_ingest
from papers.models import Paper
from papers.sources.hf_api import parse
from papers.sources.records import PaperRecord
from tests.conftest import fixture_bytes

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


ONE_DAY = "hf_daily_papers/DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json"


def issue_of_a_real_day(*, status: str, note: str) -> tuple[Issue, list[Paper]]:
    """A real day of HF papers through the real parser and ingest, as an issue with a note and two pins.

    The papers come back most upvoted first; the pins are the 4th and 5th of them.
    """
    papers_ingest(records=parse(fixture_bytes(ONE_DAY)).records, fetch_run=None)
    items = json.loads(fixture_bytes(ONE_DAY))
    day = dt.date.fromisoformat(items[0]["paper"]["submittedOnDailyAt"][:10])
    ranked = list(Paper.objects.filter(hf_date=day).order_by("-upvotes", "arxiv_id"))
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    issue = Issue.objects.create(
        date=day,
        status=status,
        note=note,
        window_start=start - dt.timedelta(days=1),
        window_end=start,
        candidate_ids=[paper.arxiv_id for paper in ranked],
        new_papers=len(ranked),
        quiet=len(ranked) < 10,
    )
    for position, paper in enumerate(ranked[3:5]):
        IssuePin.objects.create(issue=issue, paper=paper, position=position)
    return issue, ranked
