"""The public digest pages: the archive index and each issue's "view in browser" page."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from digest import embeddings, views
from digest.models import Issue, IssueHide, IssuePin
from papers.models import Paper
from tests.factories import PaperFactory
from tests.helpers import matched

pytestmark = pytest.mark.django_db
TODAY = dt.date(2025, 11, 25)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _frozen_at_3pm_today() -> Any:
    with time_machine.travel(dt.datetime(2025, 11, 25, 15, 0, tzinfo=dt.UTC), tick=False):
        yield


def _issue(
    day: dt.date = TODAY, *, status: str = "sent", kind: str = "daily", **fields: Any
) -> Issue:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) - dt.timedelta(days=1)
    fields.setdefault("candidate_ids", ["2511.00001"])
    return Issue.objects.create(
        date=day,
        kind=kind,
        status=status,
        window_start=start,
        window_end=start + dt.timedelta(days=1),
        **fields,
    )


def _titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="pb-title"[^>]*><a [^>]*>(.*?)</a></h2>', html)


def _reasons(html: str) -> list[str]:
    return re.findall(r'<p class="pb-reason"[^>]*>(.*?)</p>', html)


def _archive_links(html: str) -> list[str]:
    return re.findall(r'<h2 class="card__title"><a href="([^"]+)"', html)


def test_the_archive_lists_sent_and_sending_issues_newest_first(client: Client) -> None:
    _issue(TODAY - dt.timedelta(days=2), status="sent")
    _issue(TODAY - dt.timedelta(days=1), status="sending")
    _issue(TODAY, status="sending")
    _issue(TODAY - dt.timedelta(days=6), status="sent", kind="weekly")

    response = client.get(reverse("digest:archive"))

    assert response.status_code == 200
    assert _archive_links(response.content.decode()) == [
        "/digest/2025-11-25/",
        "/digest/2025-11-24/",
        "/digest/2025-11-23/",
        "/digest/2025-11-19/?kind=weekly",
    ]


def test_the_archive_lists_only_issues_that_have_gone_out(client: Client) -> None:
    _issue(TODAY - dt.timedelta(days=3), status="sent")
    _issue(TODAY - dt.timedelta(days=2), status="sent", candidate_ids=[], note="Empty issue")
    _issue(TODAY - dt.timedelta(days=1), status="draft", note="Secret draft note")
    _issue(TODAY, status="scheduled", note="Today's note, not sent yet")
    _issue(TODAY + dt.timedelta(days=1), status="scheduled", note="Tomorrow's note")

    html = client.get(reverse("digest:archive")).content.decode()

    assert _archive_links(html) == ["/digest/2025-11-22/"]
    assert "Empty issue" not in html
    assert "No papers" not in html
    assert "Secret draft note" not in html
    assert "Today's note" not in html
    assert "Tomorrow" not in html


def test_an_issue_appears_in_the_archive_once_it_begins_to_be_sent(client: Client) -> None:
    issue = _issue(TODAY, status="scheduled")
    page = reverse("digest:issue", kwargs={"day": TODAY})
    assert _archive_links(client.get(reverse("digest:archive")).content.decode()) == []
    assert client.get(page).status_code == 404

    Issue.objects.filter(pk=issue.pk).update(status="sending")

    assert _archive_links(client.get(reverse("digest:archive")).content.decode()) == [page]
    assert client.get(page).status_code == 200


def test_the_archive_is_paginated(client: Client) -> None:
    for back in range(views.ARCHIVE_PAGE_SIZE + 2):
        _issue(TODAY - dt.timedelta(days=back))

    first = client.get(reverse("digest:archive")).content.decode()
    second = client.get(reverse("digest:archive"), {"page": 2}).content.decode()
    nonsense = client.get(reverse("digest:archive"), {"page": "x' OR 1=1"})

    assert len(_archive_links(first)) == views.ARCHIVE_PAGE_SIZE
    assert 'rel="next"' in first
    assert _archive_links(second) == ["/digest/2025-10-26/", "/digest/2025-10-25/"]
    assert nonsense.status_code == 200
    assert _archive_links(nonsense.content.decode()) == _archive_links(first)


def test_an_empty_archive_says_so(client: Client) -> None:
    _issue(TODAY, status="draft")

    html = client.get(reverse("digest:archive")).content.decode()

    assert "No digest has gone out yet" in html


def test_the_archive_escapes_the_editors_note(client: Client) -> None:
    _issue(TODAY, note="<script>alert(1)</script>")

    html = client.get(reverse("digest:archive")).content.decode()

    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html


def test_the_issue_page_shows_pins_first_then_trending_candidates_without_hidden_ones(
    client: Client,
) -> None:
    papers = [PaperFactory.create(title=f"Candidate {n}", upvotes=100 - n) for n in range(14)]
    pinned_late = PaperFactory.create(title="Pinned second", upvotes=3)
    pinned_first = PaperFactory.create(title="Pinned first", upvotes=2)
    Paper.objects.filter(pk=papers[1].pk).update(hidden=True)
    Paper.objects.filter(pk=papers[2].pk).update(withdrawn_at=timezone.now())
    issue = _issue(candidate_ids=[paper.arxiv_id for paper in papers] + [pinned_first.arxiv_id])
    IssuePin.objects.create(issue=issue, paper=pinned_late, position=2)
    IssuePin.objects.create(issue=issue, paper=pinned_first, position=1)
    IssueHide.objects.create(issue=issue, paper=papers[3])

    response = client.get(reverse("digest:issue", kwargs={"day": TODAY}))

    assert response.status_code == 200
    html = response.content.decode()
    expected = ["Pinned first", "Pinned second"] + [
        f"Candidate {n}" for n in (0, 4, 5, 6, 7, 8, 9, 10)
    ]
    assert _titles(html) == expected
    assert _reasons(html) == ["editor&#x27;s pick"] * 2 + [
        f"trending: {100 - n} upvotes" for n in (0, 4, 5, 6, 7, 8, 9, 10)
    ]


def test_the_issue_page_is_the_email_without_anything_personal(
    client: Client, settings: Any
) -> None:
    paper = PaperFactory.create(title="Pose estimation in the wild")
    _issue(candidate_ids=[paper.arxiv_id], note="Hello from the editors", quiet=True, new_papers=1)

    html = client.get(reverse("digest:issue", kwargs={"day": TODAY})).content.decode()

    assert "Daily digest · Tuesday, 25 November 2025" in html
    assert "Hello from the editors" in html
    assert "A quiet day: only 1 new paper came out today" in html
    assert f'href="{settings.SITE_URL}/subscribe/"' in html
    assert "Unsubscribe" not in html
    assert "Manage your preferences" not in html
    assert "View in browser" not in html
    assert "most upvoted papers instead" not in html
    assert '<meta name="color-scheme" content="light dark">' in html


def test_the_issue_page_escapes_scraped_text(client: Client) -> None:
    paper = PaperFactory.create(
        title="<script>alert(1)</script>", authors=['"><img src=x onerror=alert(1)>']
    )
    _issue(candidate_ids=[paper.arxiv_id], note="<script>alert(2)</script>")

    html = client.get(reverse("digest:issue", kwargs={"day": TODAY})).content.decode()

    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html


def test_the_issue_page_lets_only_its_own_style_blocks_through_the_csp(client: Client) -> None:
    paper = PaperFactory.create(title="<style>body{display:none}</style>")
    _issue(candidate_ids=[paper.arxiv_id])

    response = client.get(reverse("digest:issue", kwargs={"day": TODAY}))

    nonce = matched(r"style-src [^;]*'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    html = response.content.decode()
    styles = re.findall(r"<style[^>]*>", html)
    assert styles
    assert all(f'nonce="{nonce}"' in tag for tag in styles)
    assert "&lt;style&gt;body{display:none}&lt;/style&gt;" in html
    style_src = matched(r"style-src [^;]*", response["Content-Security-Policy"])[0]
    assert "'unsafe-inline'" not in style_src


def test_the_weekly_issue_is_at_kind_weekly(client: Client) -> None:
    daily = PaperFactory.create(title="The daily paper")
    weekly = PaperFactory.create(title="The weekly paper")
    _issue(candidate_ids=[daily.arxiv_id])
    _issue(kind="weekly", candidate_ids=[weekly.arxiv_id])

    day_html = client.get(reverse("digest:issue", kwargs={"day": TODAY})).content.decode()
    week_html = client.get(
        reverse("digest:issue", kwargs={"day": TODAY}), {"kind": "weekly"}
    ).content.decode()

    assert _titles(day_html) == ["The daily paper"]
    assert _titles(week_html) == ["The weekly paper"]
    assert "Weekly digest" in week_html


@pytest.mark.parametrize(
    "path",
    [
        "/digest/2025-11-24/",  # no issue that day
        "/digest/2025-11-23/",  # a draft
        "/digest/2025-11-26/",  # scheduled, but its day has not come
        "/digest/2025-11-22/",  # scheduled, its day has come, but not sent
        "/digest/2025-11-21/",  # sent, but with no papers (built before empty windows were skipped)
        "/digest/2025-11-25/?kind=weekly",  # only a daily issue that day
        "/digest/2025-11-25/?kind=monthly",
        "/digest/2025-02-30/",
        "/digest/2025-13-01/",
        "/digest/0000-01-01/",
        "/digest/9999-12-31/",
        "/digest/25-11-2025/",
        "/digest/today/",
    ],
)
def test_unknown_draft_future_and_bad_dates_are_404(client: Client, path: str) -> None:
    _issue(TODAY)
    _issue(dt.date(2025, 11, 23), status="draft")
    _issue(dt.date(2025, 11, 26), status="scheduled")
    _issue(dt.date(2025, 11, 22), status="scheduled")
    _issue(dt.date(2025, 11, 21), status="sent", candidate_ids=[])

    assert client.get(path).status_code == 404


def test_the_issue_page_takes_a_few_queries(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    papers = [PaperFactory.create() for _ in range(12)]
    issue = _issue(candidate_ids=[paper.arxiv_id for paper in papers])
    IssuePin.objects.create(issue=issue, paper=papers[5], position=0)
    IssueHide.objects.create(issue=issue, paper=papers[0])

    with django_assert_max_num_queries(4):
        response = client.get(reverse("digest:issue", kwargs={"day": TODAY}))

    assert len(_titles(response.content.decode())) == views.PUBLIC_PAPERS


def test_the_issue_page_never_loads_the_embedding_model(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the web process loaded the sentence-transformers model")

    monkeypatch.setattr(embeddings, "_model_get", refuse)
    paper = PaperFactory.create()
    _issue(candidate_ids=[paper.arxiv_id])

    assert client.get(reverse("digest:issue", kwargs={"day": TODAY})).status_code == 200
    assert client.get(reverse("digest:archive")).status_code == 200


def test_the_digest_pages_import_neither_the_model_nor_torch() -> None:
    code = (
        "import sys, django; django.setup(); import config.urls, digest.views, digest.render; "
        "heavy = sorted({'sentence_transformers', 'torch', 'transformers'} & set(sys.modules)); "
        "print(','.join(heavy))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "PYTHONPATH": str(ROOT)}

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == ""
