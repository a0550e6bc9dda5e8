"""What a newcomer meets: one summary everywhere, dated snapshots, the admin under our name."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
import time_machine
from django.test import Client

from digest.models import Issue, IssueKind
from digest.render import Pick, issue_frame_build
from papers.models import FetchRun, Paper, Source
from papers.text import SUMMARY_MAX_CHARS, summary_text
from tests.factories import (
    FetchRunFactory,
    PaperFactory,
    PaperMetricFactory,
    papers_from_hf_fixture,
)
from tests.helpers import fixture_bytes, matched

pytestmark = pytest.mark.django_db

AUG_2023 = "hf_daily_papers/api_daily_papers_month-2023-08_sort-publishedAt_all-pages.json"
PAPERS = "/admin/papers/paper/"


def _paper_without_ai_summary() -> Paper:
    """A real paper of the 2023 dump, as an arXiv-only paper would be: without an AI summary."""
    papers_from_hf_fixture(fixture_bytes(AUG_2023))
    paper = Paper.objects.get(arxiv_id="2308.15560")  # "... by Rasp et al. (2020), designed ..."
    paper.ai_summary = ""
    paper.save()
    assert len(paper.abstract) > SUMMARY_MAX_CHARS
    return paper


def test_the_card_the_paper_page_and_the_email_say_the_same_summary(client) -> None:
    paper = _paper_without_ai_summary()
    expected = summary_text(paper=paper)

    listing = html.unescape(client.get(f"/papers/date/{paper.hf_date:%Y-%m-%d}/").content.decode())
    page = html.unescape(client.get(f"/papers/{paper.arxiv_id}/").content.decode())
    issue = Issue(
        date=dt.date(2023, 9, 1),
        kind=IssueKind.DAILY,
        window_start=dt.datetime(2023, 8, 31, tzinfo=dt.UTC),
        window_end=dt.datetime(2023, 9, 1, tzinfo=dt.UTC),
        candidate_ids=[paper.arxiv_id],
    )
    email = issue_frame_build(issue=issue, papers={paper.arxiv_id: paper}).assemble_public(
        picks=[Pick(paper.arxiv_id, "trending")]
    )

    assert expected.endswith("data-driven weather modeling.")  # whole sentences, no "…"
    card = matched(
        rf'href="/papers/{paper.arxiv_id}/".*?<p class="card__summary">(.*?)</p>', listing, re.S
    ).group(1)
    assert card == expected
    description = matched(r'<meta name="description" content="([^"]*)"', page).group(1)
    assert description == summary_text(paper=paper, max_chars=200)
    assert matched(r'<p class="pb-summary"[^>]*>(.*?)</p>', html.unescape(email.html)).group(1) == (
        expected
    )
    assert " ".join(expected.split()) in " ".join(email.text.split())


def test_the_card_prefers_the_ai_summary_whole(client) -> None:
    PaperFactory.create(
        ai_summary="Short AI summary of the paper.", abstract="A long abstract. " * 40
    )

    listing = client.get("/").content.decode()

    assert '<p class="card__summary">Short AI summary of the paper.</p>' in listing
    assert "A long abstract." not in listing


def test_the_upvote_history_is_dated_when_each_snapshot_was_captured(client) -> None:
    paper = PaperFactory.create(arxiv_id="2511.14993", upvotes=234)
    captured = [
        dt.datetime(2025, 11, 20, 0, 5, tzinfo=dt.UTC),
        dt.datetime(2025, 11, 20, 6, 5, tzinfo=dt.UTC),
        dt.datetime(2025, 11, 21, 18, 30, tzinfo=dt.UTC),
    ]
    for at, upvotes in zip(captured, [12, 80, 234], strict=True):
        PaperMetricFactory.create(paper=paper, upvotes=upvotes, captured_at=at)

    with time_machine.travel(dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC), tick=False):
        page = client.get(f"/papers/{paper.arxiv_id}/").content.decode()

    history = page[page.index('id="history-title"') :]
    times = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', history)
    assert times == [
        ("2025-11-21T18:30:00+00:00", "Nov 21, 2025 18:30"),
        ("2025-11-20T06:05:00+00:00", "Nov 20, 2025 06:05"),
        ("2025-11-20T00:05:00+00:00", "Nov 20, 2025 00:05"),
    ]
    assert "Nov 30, 2026" not in page
    assert "Captured (UTC)" in history


def test_a_snapshot_from_a_saved_file_says_it_is_dated_at_loading(client) -> None:
    paper = PaperFactory.create(arxiv_id="2511.14993")
    loaded = FetchRunFactory.create(source=Source.FILE, status=FetchRun.Status.SUCCEEDED)
    fetched = FetchRunFactory.create(source=Source.HF, status=FetchRun.Status.SUCCEEDED)
    PaperMetricFactory.create(
        paper=paper, fetch_run=loaded, captured_at=dt.datetime(2026, 11, 30, 11, 57, tzinfo=dt.UTC)
    )
    PaperMetricFactory.create(
        paper=paper, fetch_run=fetched, captured_at=dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)
    )

    page = client.get(f"/papers/{paper.arxiv_id}/").content.decode()

    rows = re.findall(r"<tr><td><time[^>]*>([^<]+)</time>(.*?)</td>", page)
    assert rows == [
        ("Nov 30, 2026 13:00", ""),
        ("Nov 30, 2026 11:57", ' <span class="muted">(loaded from a saved file)</span>'),
    ]


@pytest.mark.parametrize("path", ["/admin/", PAPERS, "/admin/papers/fetchrun/"])
def test_the_admin_says_paperboy_not_django(admin_client, path: str) -> None:
    page = admin_client.get(path).content.decode()

    assert "Django administration" not in page
    assert "Django site admin" not in page
    assert matched(r'<div id="site-name"><a [^>]*>([^<]+)</a>', page).group(1) == (
        "Paperboy administration"
    )
    assert matched(r"<title>([^<]+)</title>", page).group(1).endswith("| Paperboy administration")


def test_the_admin_login_page_says_paperboy_too() -> None:
    page = Client().get("/admin/login/").content.decode()

    assert "Paperboy administration" in page
    assert "Django administration" not in page


def test_the_admin_index_is_titled_paperboy(admin_client) -> None:
    page = admin_client.get("/admin/").content.decode()

    assert matched(r"<h1[^>]*>([^<]+)</h1>", page).group(1) == "Paperboy"


def test_the_admin_paper_list_has_few_narrow_columns(admin_client) -> None:
    long_title = "A very long title about sparse attention " * 4
    PaperFactory.create(arxiv_id="2511.00001", title=long_title, featured=True, hidden=True)
    PaperFactory.create(arxiv_id="2511.00002", title="Plain", hf_date=dt.date(2025, 11, 21))

    page = admin_client.get(PAPERS).content.decode()

    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', page)
    assert headers == ["arxiv_id", "short_title", "hf_day", "votes", "state"]
    assert 'href="/static/css/papers_admin.css"' in page
    titles = re.findall(r'<td class="field-short_title"><a [^>]*>([^<]+)</a>', page)
    assert titles[0] == "Plain"
    assert len(titles[1]) <= 70
    assert titles[1].endswith("…")
    states = re.findall(r'<td class="field-state">([^<]*)</td>', page)
    assert sorted(states) == ["featured, hidden", "–"]
    assert '<td class="field-hf_day">2025-11-21</td>' in page
