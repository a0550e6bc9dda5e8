"""Editors see each candidate's 👍/👎 counts from the issue's readers, and can sort by them.

Counts only: no reader's own vote is ever shown to an editor.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from digest import services
from digest.models import Delivery, Issue, Vote
from digest.selectors import VoteCounts, issue_vote_counts
from papers.models import Paper
from subscriptions.models import Subscriber
from tests.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 24)
BUILT = dt.datetime(2026, 11, 24, 0, 5, tzinfo=dt.UTC)


def _papers() -> list[Paper]:
    return [
        PaperFactory.create(
            arxiv_id=f"2611.1{i:04d}",
            title=f"Study number {i}",
            hf_date=DAY - dt.timedelta(days=1),
            upvotes=100 - i,
        )
        for i in range(5)
    ]


def _issue(date: dt.date = DAY) -> Issue:
    with time_machine.travel(BUILT, tick=False):
        return services.issue_build(date=date)


def _votes(issue: Issue, papers: list[Paper], plan: dict[int, tuple[int, int]]) -> None:
    """For paper i, `more` readers voting more and `less` voting less from their digest."""
    for i, (more, less) in plan.items():
        for direction, count in (("more", more), ("less", less)):
            for _ in range(count):
                reader = SubscriberFactory.create()
                delivery = Delivery.objects.create(
                    issue=issue, subscriber=reader, papers=[papers[i].arxiv_id]
                )
                Vote.objects.create(
                    subscriber=reader,
                    delivery=delivery,
                    arxiv_id=papers[i].arxiv_id,
                    direction=direction,
                )


def _shown_order(html: str) -> list[str]:
    return re.findall(r"Study number (\d)", html)


def _change(admin_client: Client, issue: Issue, **query: str) -> str:
    url = reverse("admin:digest_issue_change", args=[issue.pk])
    got = admin_client.get(url, query)
    assert got.status_code == 200
    return got.content.decode()


def test_the_counts_are_this_issues_readers_votes_in_one_query() -> None:
    papers = _papers()
    issue = _issue()
    other = _issue(DAY + dt.timedelta(days=1))
    _votes(issue, papers, {0: (2, 1), 3: (0, 2)})
    _votes(other, papers, {0: (5, 5)})  # another issue's readers do not count here
    reader = SubscriberFactory.create()
    Vote.objects.create(subscriber=reader, arxiv_id=papers[1].arxiv_id, direction="more")

    with CaptureQueriesContext(connection) as queries:
        counts = issue_vote_counts(issue=issue)

    assert len(queries) == 1
    assert counts == {
        papers[0].arxiv_id: VoteCounts(more=2, less=1),
        papers[3].arxiv_id: VoteCounts(more=0, less=2),
    }


def test_the_issue_page_shows_each_candidates_counts(admin_client: Client) -> None:
    papers = _papers()
    issue = _issue()
    _votes(issue, papers, {1: (3, 1), 4: (0, 2)})

    page = _change(admin_client, issue)

    found = re.findall(r"Study number (\d)</a>.*?👍&nbsp;(\d+) 👎&nbsp;(\d+)", page)
    assert found == [
        ("0", "0", "0"),
        ("1", "3", "1"),
        ("2", "0", "0"),
        ("3", "0", "0"),
        ("4", "0", "2"),
    ]
    # Counts only: no reader's address, and no link to who voted.
    for reader in Subscriber.objects.all():
        assert reader.email not in page
    assert "/admin/digest/vote/" not in page


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["0", "1", "2", "3", "4"]),  # trending, as built
        ("more", ["3", "1", "0", "2", "4"]),  # most 👍 first, ties in trending order
        ("less", ["4", "0", "1", "2", "3"]),
        ("nonsense", ["0", "1", "2", "3", "4"]),
    ],
)
def test_the_candidates_sort_by_votes(admin_client: Client, sort: str, expected: list[str]) -> None:
    papers = _papers()
    issue = _issue()
    _votes(issue, papers, {1: (2, 0), 3: (3, 0), 4: (0, 2), 0: (0, 1)})

    page = _change(admin_client, issue, **({"votes": sort} if sort else {}))

    assert _shown_order(page) == expected
    # The links to the other orders, the current one in bold.
    label = {"more": "most 👍", "less": "most 👎"}.get(sort, "trending")
    assert f"<strong>{label}</strong>" in page
    for key in {"more", "less"} - {sort}:
        assert f"?votes={key}" in page


def test_the_sorted_page_takes_no_more_queries_than_the_plain_one(admin_client: Client) -> None:
    papers = _papers()
    issue = _issue()
    _votes(issue, papers, {1: (2, 0), 3: (3, 1)})
    counts = []
    for query in ({}, {"votes": "more"}):
        with CaptureQueriesContext(connection) as queries:
            _change(admin_client, issue, **query)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_a_post_to_the_sorted_page_saves_the_note_as_usual(admin_client: Client) -> None:
    _papers()  # an issue is only built over papers
    issue = _issue()
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.DRAFT)
    url = reverse("admin:digest_issue_change", args=[issue.pk]) + "?votes=more"
    data: dict[str, Any] = {"note": "Hello", "_continue": "Save"}
    for prefix in ("pins", "hides"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": 0,
                f"{prefix}-INITIAL_FORMS": 0,
                f"{prefix}-MIN_NUM_FORMS": 0,
                f"{prefix}-MAX_NUM_FORMS": 1000,
            }
        )

    got = admin_client.post(url, data)

    assert got.status_code == 302
    issue.refresh_from_db()
    assert issue.note == "Hello"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_chromium_the_sorted_candidates_show_their_counts(
    browser: Any, live_server: Any
) -> None:
    from django.contrib.auth.models import User

    from tests.helpers import SHOTS

    papers = _papers()
    issue = _issue()
    _votes(issue, papers, {1: (2, 0), 3: (3, 1)})
    client = Client()
    client.force_login(User.objects.create_superuser("editor", "editor@example.org", "pw"))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    try:
        page = context.new_page()
        complaints: list[str] = []
        page.on("console", lambda message: complaints.append(message.text))
        page.goto(live_server.url + reverse("admin:digest_issue_change", args=[issue.pk]))
        page.get_by_role("link", name="most 👍").click()
        page.wait_for_url("**?votes=more#candidates-sort")
        first = page.locator("ol.issue-candidates li").first
        assert "Study number 3" in first.inner_text()
        assert "👍 3 👎 1" in first.inner_text().replace("\xa0", " ")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("ol.issue-candidates").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "admin-issue-votes.png"), full_page=True)
        assert not [line for line in complaints if "Content Security Policy" in line]
    finally:
        context.close()
