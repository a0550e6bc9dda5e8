"""'Since you read it': papers a reader was sent whose code came out afterwards, told once each.

A paper's `code_seen_at` is when a fetch first saw its code link. A reader sent the paper before
that (within the ledger's look-back, ledger.HISTORY_DAYS) is told in their next digest, at most
NOTICES_MAX papers at a time, newest code first. The delivery that tells them records the papers
in its `notices`, so the ledger itself remembers what was told: a retry, or a resend after a
crash, recomputes the same notices, and a later digest never tells the same paper again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.urls import reverse

from digest.ledger import HISTORY_DAYS, SentHistory
from digest.render import CodeNotice
from papers.models import Paper
from subscriptions.emails import site_url

NOTICES_MAX = 3


@dataclass(frozen=True)
class CodePaper:
    """A paper whose code link appeared lately."""

    arxiv_id: str
    title: str
    repo: str
    stars: int | None
    seen_at: dt.datetime


def code_papers_recent(*, now: dt.datetime) -> dict[str, CodePaper]:
    """The papers whose code a fetch first saw within the look-back, by arXiv id (one query)."""
    rows = (
        Paper.objects.filter(code_seen_at__gte=now - dt.timedelta(days=HISTORY_DAYS), hidden=False)
        .exclude(github_repo="")
        .values_list("arxiv_id", "title", "github_repo", "github_stars", "code_seen_at")
    )
    return {
        arxiv_id: CodePaper(arxiv_id, title, repo, stars, seen_at)
        for arxiv_id, title, repo, stars, seen_at in rows
        if seen_at is not None
    }


def reader_notices(*, history: SentHistory, code_papers: dict[str, CodePaper]) -> list[CodeNotice]:
    """The reader's "code is out" notices: papers sent before their code appeared, not yet told."""
    due = [
        paper
        for arxiv_id, first_sent in history.first_sent.items()
        if arxiv_id not in history.notified
        and (paper := code_papers.get(arxiv_id)) is not None
        and paper.seen_at > first_sent
    ]
    due.sort(key=lambda paper: (-paper.seen_at.timestamp(), paper.arxiv_id))
    return [
        CodeNotice(
            arxiv_id=paper.arxiv_id,
            title=paper.title,
            url=site_url(reverse("papers:detail", kwargs={"arxiv_id": paper.arxiv_id})),
            repo=paper.repo,
            stars=paper.stars,
        )
        for paper in due[:NOTICES_MAX]
    ]
