"""The reader's "Your papers" page: every paper their digests sent them, by issue, with a search.

It opens with the reader's manage token, like "Your signals": a bad, expired or stale link gets
the same page saying so, never a 500. It shows only sent digests, newest first, 20 to a page, each
paper with why it was sent, the reader's vote and the "code is now available" they were told, in a
constant number of queries. The data export holds the same history.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from digest.history import HISTORY_PAGE_SIZE, history_list_export, reader_history
from digest.models import Delivery, DeliveryStatus, Issue, IssueKind, Vote
from papers.models import Paper
from subscriptions.models import Subscriber
from subscriptions.tokens import MAX_AGE, Purpose, token_make
from tests.factories import PaperFactory, SubscriberFactory
from tests.helpers_fuzz import FUZZ, stored_state

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
REPO = "https://github.com/ada/speculative"
# The papers of Ada's digests, by id: title, authors, abstract.
PAPERS = {
    "2611.00001": ("Speculative decoding at scale", ["Ada Lovelace"], "We draft and verify."),
    "2611.00002": ("Quantized attention kernels", ["Jürgen Müller", "Li Wei"], "Four bits."),
    "2611.00003": ("A benchmark of surveys", ["Grace Hopper"], "We count benchmarks."),
    "2611.00004": ("Robots that fold laundry", ["Alan Turing"], "Grasping, with sparse rewards."),
    "2611.00005": ("Protein folding, again", ["Rosalind Franklin"], "Structures from sequence."),
    "2611.00006": ("Never sent: a failed digest", ["Nobody"], "It failed."),
}


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _issue(day: dt.date, kind: str = IssueKind.DAILY) -> Issue:
    start = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC) - DAY
    issue, _ = Issue.objects.get_or_create(
        date=day,
        kind=kind,
        defaults={"window_start": start, "window_end": start + DAY, "status": "sent"},
    )
    return issue


def _sent(
    reader: Subscriber,
    day: dt.date,
    papers: list[str],
    *,
    reasons: list[str] | None = None,
    notices: list[str] | None = None,
    status: str = DeliveryStatus.SENT,
    kind: str = IssueKind.DAILY,
) -> Delivery:
    sent_at = dt.datetime.combine(day, dt.time(7), tzinfo=dt.UTC)
    return Delivery.objects.create(
        issue=_issue(day, kind),
        subscriber=reader,
        status=status,
        papers=papers,
        reasons=reasons or [],
        notices=notices or [],
        sent_at=sent_at if status == DeliveryStatus.SENT else None,
    )


@pytest.fixture
def papers(clock: Any) -> dict[str, Paper]:
    return {
        arxiv_id: PaperFactory.create(
            arxiv_id=arxiv_id, title=title, authors=authors, abstract=abstract
        )
        for arxiv_id, (title, authors, abstract) in PAPERS.items()
    }


@pytest.fixture
def ada(papers: dict[str, Paper]) -> Subscriber:
    """Ada: three sent digests (the oldest recorded before reasons), a failed one, two votes."""
    reader = SubscriberFactory.create(email="ada@example.org")
    _sent(reader, dt.date(2026, 11, 23), ["2611.00003", "2611.00004"])
    _sent(
        reader,
        dt.date(2026, 11, 24),
        ["2611.00001", "2611.00002"],
        reasons=["matches: speculative decoding", "editor's pick"],
    )
    _sent(
        reader,
        dt.date(2026, 11, 25),
        ["2611.00005"],
        reasons=["trending today"],
        notices=["2611.00001"],
    )
    _sent(reader, dt.date(2026, 11, 26), ["2611.00006"], status=DeliveryStatus.FAILED)
    Vote.objects.create(subscriber=reader, arxiv_id="2611.00001", direction="more")
    Vote.objects.create(subscriber=reader, arxiv_id="2611.00004", direction="less")
    Paper.objects.filter(arxiv_id="2611.00001").update(github_repo=REPO)
    return reader


@pytest.fixture
def bob(ada: Subscriber) -> Subscriber:
    """Bob: another reader, with a digest and a vote of his own on one of Ada's papers."""
    reader = SubscriberFactory.create(email="bob@example.org")
    _sent(reader, dt.date(2026, 11, 25), ["2611.00006"], reasons=["bob's reason"])
    Vote.objects.create(subscriber=reader, arxiv_id="2611.00005", direction="less")
    return reader


def _token(subscriber: Subscriber, purpose: Purpose = Purpose.MANAGE) -> str:
    return token_make(subscriber_id=subscriber.pk, address=subscriber.email, purpose=purpose)


def _url(subscriber: Subscriber | str, **query: str) -> str:
    token = subscriber if isinstance(subscriber, str) else _token(subscriber)
    url = reverse("digest:history", kwargs={"token": token})
    if query:
        url += "?" + "&".join(f"{key}={quote(value, safe='')}" for key, value in query.items())
    return url


def _page(client: Client, url: str) -> str:
    got = client.get(url)
    assert got.status_code == 200
    return got.content.decode()


def _headings(html: str) -> list[str]:
    """The digests listed, as their headings read."""
    found = re.findall(r'<h2 id="issue-\d+"><a href="[^"]*">([^<]+)</a></h2>', html)
    return [unescape(text) for text in found]


def _titles(html: str) -> list[str]:
    return [
        unescape(t) for t in re.findall(r'<span class="seed__title">(?:<a [^>]*>)?([^<]+)', html)
    ]


# --- What it shows --------------------------------------------------------------------------------


def test_it_lists_each_sent_digest_newest_first_with_its_papers_in_the_order_sent(
    client: Client, ada: Subscriber
) -> None:
    html = _page(client, _url(ada))

    assert _headings(html) == [
        "Daily digest, Wednesday 25 November 2026",
        "Daily digest, Tuesday 24 November 2026",
        "Daily digest, Monday 23 November 2026",
    ]
    assert _titles(html) == [PAPERS[i][0] for i in ("2611.00005", "2611.00001", "2611.00002")] + [
        PAPERS[i][0] for i in ("2611.00003", "2611.00004")
    ]
    assert "<main" in html
    assert html.count("<h1") == 1


def test_it_leaves_out_digests_not_sent_and_other_readers_digests(
    client: Client, ada: Subscriber, bob: Subscriber
) -> None:
    html = _page(client, _url(ada))

    assert "Never sent" not in html
    assert "bob&#x27;s reason" not in html
    assert "bob's reason" not in html
    assert "Never sent: a failed digest" in _page(client, _url(bob))


def test_it_shows_why_each_paper_was_sent_and_no_reason_for_older_digests(
    client: Client, ada: Subscriber
) -> None:
    html = _page(client, _url(ada))

    assert "Why you got it: matches: speculative decoding" in html
    assert "Why you got it: editor&#x27;s pick" in html
    assert "Why you got it: trending today" in html
    # The digest of the 23rd was recorded before reasons were: its papers show none.
    oldest = html.split("Monday 23 November 2026", 1)[1]
    assert "Why you got it" not in oldest


def test_it_shows_the_readers_own_votes_only(
    client: Client, ada: Subscriber, bob: Subscriber
) -> None:
    found = reader_history(subscriber=ada, query="", page=1)
    votes = {p.arxiv_id: p.vote for issue in found.page.object_list for p in issue.papers}

    assert votes == {
        "2611.00005": "",  # Bob's vote, not Ada's
        "2611.00001": "more",
        "2611.00002": "",
        "2611.00003": "",
        "2611.00004": "less",
    }
    html = _page(client, _url(ada))
    assert html.count("You asked for more like this") == 1
    assert html.count("You asked for less like this") == 1


def test_it_says_code_is_now_available_where_a_digest_told_the_reader(
    client: Client, ada: Subscriber
) -> None:
    found = reader_history(subscriber=ada, query="", page=1)
    told = {p.arxiv_id: p.code_told_on for issue in found.page.object_list for p in issue.papers}

    # The digest of the 25th told Ada that the paper of the 24th has its code out.
    assert told["2611.00001"] == dt.date(2026, 11, 25)
    assert [arxiv_id for arxiv_id, day in told.items() if day] == ["2611.00001"]
    html = _page(client, _url(ada))
    assert html.count("Code is now available") == 1
    assert f'<a href="{REPO}" rel="noopener noreferrer">Code is now available</a>' in html


def test_a_code_link_that_is_not_http_is_never_a_link(client: Client, ada: Subscriber) -> None:
    Paper.objects.filter(arxiv_id="2611.00001").update(github_repo="javascript:alert(1)")

    html = _page(client, _url(ada))

    assert "Code is now available" in html
    assert "javascript:" not in html


def test_it_links_each_issue_page_the_readers_own_copy_and_each_paper(
    client: Client, ada: Subscriber
) -> None:
    html = _page(client, _url(ada))

    assert f'href="{reverse("digest:issue", args=[dt.date(2026, 11, 24)])}"' in html
    assert f'href="{reverse("papers:detail", args=["2611.00002"])}"' in html
    copies = re.findall(r'href="(/digest/copy/[^"]+/)"', html)
    assert len(copies) == 3
    copy = client.get(unescape(copies[1]))
    assert copy.status_code == 200
    assert PAPERS["2611.00001"][0] in copy.content.decode()


def test_it_tells_when_each_digest_was_sent_in_the_readers_time_zone(
    client: Client, ada: Subscriber
) -> None:
    Subscriber.objects.filter(pk=ada.pk).update(timezone="Asia/Tokyo")

    html = _page(client, _url(ada))

    assert '<time datetime="2026-11-24T07:00:00+00:00">24 Nov 2026, 16:00</time>' in html


def test_a_weekly_digest_links_the_weekly_issue(client: Client, papers: Any) -> None:
    reader = SubscriberFactory.create(frequency="weekly")
    _sent(reader, dt.date(2026, 11, 23), ["2611.00001"], kind=IssueKind.WEEKLY)

    html = _page(client, _url(reader))

    assert _headings(html) == ["Weekly digest, week of 23 November 2026"]
    assert 'href="/digest/2026-11-23/?kind=weekly"' in html


def test_a_hidden_or_deleted_paper_is_listed_without_a_link(
    client: Client, ada: Subscriber
) -> None:
    Paper.objects.filter(arxiv_id="2611.00002").update(hidden=True)
    Paper.objects.filter(arxiv_id="2611.00003").delete()

    html = _page(client, _url(ada))

    assert "Quantized attention kernels" in html
    assert reverse("papers:detail", args=["2611.00002"]) not in html
    assert "2611.00003" in _titles(html)
    assert reverse("papers:detail", args=["2611.00003"]) not in html


def test_a_reader_never_sent_a_digest_is_told_so(client: Client, papers: Any) -> None:
    html = _page(client, _url(SubscriberFactory.create()))

    assert "No digest has been sent to you yet" in html
    assert _headings(html) == []


def test_it_answers_get_and_head_only_and_is_never_cached_or_indexed(
    client: Client, ada: Subscriber
) -> None:
    got = client.get(_url(ada))

    assert got["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-cache" in got["Cache-Control"]
    assert client.head(_url(ada)).status_code == 200
    assert client.post(_url(ada)).status_code == 405


def test_the_manage_and_signals_pages_link_to_it(client: Client, ada: Subscriber) -> None:
    token = _token(ada)
    path = reverse("digest:history", kwargs={"token": token})

    for name in ("subscriptions:manage", "digest:signals"):
        html = _page(client, reverse(name, kwargs={"token": token}))
        assert f'href="{path}"' in html, name


# --- Search ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SPECULATIVE", ["2611.00001"]),  # a title, any case
        ("müller", ["2611.00002"]),  # an author, with a non-ASCII letter
        ("Grace", ["2611.00003"]),  # an author
        ("sparse rewards", ["2611.00004"]),  # an abstract
        ("2611.00005", ["2611.00005"]),  # an arXiv id
        ("  we   COUNT ", ["2611.00003"]),  # spaces folded, in an abstract
    ],
)
def test_a_search_shows_only_the_matching_papers_of_the_readers_digests(
    client: Client, ada: Subscriber, bob: Subscriber, query: str, expected: list[str]
) -> None:
    found = reader_history(subscriber=ada, query=query, page=None)

    assert [p.arxiv_id for issue in found.page.object_list for p in issue.papers] == expected
    assert found.papers == len(expected)
    html = _page(client, _url(ada, q=query))
    assert _titles(html) == [PAPERS[arxiv_id][0] for arxiv_id in expected]


def test_a_search_keeps_each_papers_reason_vote_and_code_notice(ada: Subscriber) -> None:
    found = reader_history(subscriber=ada, query="kernels speculative", page=1)
    assert found.page.object_list == []

    [issue] = reader_history(subscriber=ada, query="quantized", page=1).page.object_list
    [paper] = issue.papers
    assert (paper.arxiv_id, paper.reason) == ("2611.00002", "editor's pick")
    [issue] = reader_history(subscriber=ada, query="speculative", page=1).page.object_list
    [paper] = issue.papers
    assert (paper.reason, paper.vote, paper.code_told_on) == (
        "matches: speculative decoding",
        "more",
        dt.date(2026, 11, 25),
    )


def test_a_search_never_finds_papers_the_reader_was_not_sent(
    client: Client, ada: Subscriber, bob: Subscriber
) -> None:
    html = _page(client, _url(ada, q="Never sent"))

    assert _titles(html) == []
    assert "None of the papers you were sent matches “Never sent”." in html
    assert "Show all your papers" in html
    assert "No digest has been sent to you yet" not in html


def test_the_search_box_is_labelled_and_keeps_the_query(client: Client, ada: Subscriber) -> None:
    html = _page(client, _url(ada, q="robots"))

    assert '<label for="history-q">' in html
    assert re.search(r'<input id="history-q" type="search" name="q" value="robots"', html)
    assert "1 paper in 1 digest matches “robots”." in html


@pytest.mark.parametrize(
    "query",
    [
        "x" * 10_000,
        "\x00",
        "speculative\x00decoding",
        "%",
        "_",
        "\\",
        '"',
        "'; DROP TABLE digest_delivery; --",
        "<script>alert(1)</script>",
        "Müller 🚀 数据 ﷽",
        "\u202e\u200b\ufeff",
        "\ud800",
    ],
    ids=[
        "very-long",
        "nul",
        "nul-inside",
        "percent",
        "underscore",
        "backslash",
        "quote",
        "sql",
        "script",
        "unicode",
        "invisible",
        "lone-surrogate",
    ],
)
def test_whatever_is_searched_it_answers_and_stores_nothing(
    client: Client, ada: Subscriber, query: str
) -> None:
    before = stored_state()
    # A lone surrogate cannot be sent as UTF-8: its bytes arrive as a browser would send them.
    raw = "%ED%A0%80" if query == "\ud800" else quote(query.encode("utf-8", "surrogatepass"))

    got = client.get(_url(ada) + f"?q={raw}&page={raw}")

    assert got.status_code == 200
    html = got.content.decode()
    assert "<script>alert" not in html
    assert stored_state() == before


@FUZZ
@given(query=st.text(max_size=300), page=st.text(max_size=30))
def test_whatever_a_client_sends_it_answers_a_page(
    client: Client, ada: Subscriber, query: str, page: str
) -> None:
    got = client.get(_url(ada), {"q": query.encode("utf-8", "replace").decode(), "page": page})

    assert got.status_code == 200
    assert "<h1" in got.content.decode()


def test_scraped_titles_and_authors_are_shown_as_text(client: Client, ada: Subscriber) -> None:
    Paper.objects.filter(arxiv_id="2611.00002").update(
        title="<img src=x onerror=alert(1)>", authors=["<b>Eve</b>"]
    )

    html = _page(client, _url(ada))

    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html


def test_a_wildcard_matches_only_itself(ada: Subscriber) -> None:
    for query in ("%", "_"):
        assert reader_history(subscriber=ada, query=query, page=1).papers == 0


def test_a_very_long_search_is_shortened_and_says_so(client: Client, ada: Subscriber) -> None:
    html = _page(client, _url(ada, q="speculative " + "x" * 500))

    assert "Your search was shortened to 200 characters." in html


# --- Pages ----------------------------------------------------------------------------------------


@pytest.fixture
def many(papers: Any) -> Subscriber:
    """Cleo: 45 daily digests, one paper each, the newest on 26 November 2026."""
    reader = SubscriberFactory.create(email="cleo@example.org")
    for n in range(45):
        arxiv_id = "2611.00001" if n % 2 else "2611.00004"
        _sent(reader, dt.date(2026, 11, 26) - n * DAY, [arxiv_id], reasons=[f"reason {n}"])
    return reader


def test_it_shows_twenty_digests_a_page_with_links_to_the_others(
    client: Client, many: Subscriber
) -> None:
    first, second, third = (_page(client, _url(many, page=str(n))) for n in (1, 2, 3))

    assert [len(_headings(html)) for html in (first, second, third)] == [20, 20, 5]
    assert HISTORY_PAGE_SIZE == 20
    assert _headings(first)[0] == "Daily digest, Thursday 26 November 2026"
    assert _headings(second)[0] == "Daily digest, Friday 6 November 2026"
    assert 'href="?page=2" rel="next"' in first
    assert 'href="?page=1" rel="prev"' in second
    assert 'href="?page=3" rel="next"' in second
    assert 'rel="next"' not in third


def test_a_search_keeps_its_query_from_page_to_page(client: Client, many: Subscriber) -> None:
    first = _page(client, _url(many, q="robots"))  # 23 of the 45 digests
    second = _page(client, _url(many, q="robots", page="2"))

    assert "23 papers in 23 digests match “robots”." in first
    assert [len(_headings(html)) for html in (first, second)] == [20, 3]
    assert 'href="?q=robots&amp;page=2" rel="next"' in first


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99999999999999999999", "1.5", "", "٢"])
def test_any_page_number_shows_a_page(client: Client, many: Subscriber, page: str) -> None:
    html = _page(client, _url(many, page=page))

    assert len(_headings(html)) in (20, 5)


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_history(
    client: Client, ada: Subscriber, django_assert_max_num_queries: Any
) -> None:
    small = {q: _queries(client, _url(ada, q=q)) for q in ("", "we")}
    cleo = SubscriberFactory.create(email="cleo@example.org")
    for n in range(60):
        _sent(cleo, dt.date(2026, 11, 26) - n * DAY, list(PAPERS)[:5], reasons=["r"] * 5)
        Vote.objects.get_or_create(
            subscriber=cleo, arxiv_id=list(PAPERS)[n % 5], defaults={"direction": "more"}
        )

    for query in ("", "we"):
        # The reader, the ledger's rows, the search's matches (with a search), papers, votes.
        with django_assert_max_num_queries(5 if query else 4):
            _page(client, _url(cleo, q=query))
        assert _queries(client, _url(cleo, q=query, page="2")) == small[query]


# --- Bad links ------------------------------------------------------------------------------------


def _both(client: Client, token: str) -> tuple[Any, Any]:
    """The answers of this page and of "Your signals" to the same token."""
    quoted = quote(token, safe="")
    return client.get(f"/digest/papers/{quoted}/"), client.get(f"/digest/signals/{quoted}/")


@pytest.mark.parametrize(
    "token",
    ["garbage", "a:b:c", "eyJzIjoxLCJmIjoiYWJjIn0:1vIaZV:forged-signature-forged-signature-x0"],
    ids=["garbage", "three-parts", "forged"],
)
def test_a_garbled_or_forged_link_gets_the_same_answer_as_signals(
    client: Client, ada: Subscriber, token: str
) -> None:
    before = stored_state()

    history, signals = _both(client, token)

    assert history.status_code == signals.status_code == 400
    assert "This link is not valid" in history.content.decode()
    assert stored_state() == before


def test_a_link_made_for_another_purpose_does_not_open_it(client: Client, ada: Subscriber) -> None:
    for purpose in (Purpose.UNSUBSCRIBE, Purpose.CONFIRM):
        history, signals = _both(client, _token(ada, purpose))
        assert history.status_code == signals.status_code == 400


def test_an_expired_link_gets_the_same_410_as_signals(
    client: Client, ada: Subscriber, clock: Any
) -> None:
    token = _token(ada)
    clock.shift(MAX_AGE[Purpose.MANAGE] + dt.timedelta(seconds=1))

    history, signals = _both(client, token)

    assert history.status_code == signals.status_code == 410
    assert "This link has expired" in history.content.decode()


def test_the_link_dies_with_an_address_change_or_the_reader(
    client: Client, ada: Subscriber
) -> None:
    token = _token(ada)
    Subscriber.objects.filter(pk=ada.pk).update(email="ada.new@example.org")
    assert [got.status_code for got in _both(client, token)] == [410, 410]

    Subscriber.objects.filter(pk=ada.pk).delete()
    assert [got.status_code for got in _both(client, token)] == [410, 410]


def test_an_empty_token_finds_no_page(client: Client) -> None:
    assert client.get("/digest/papers//").status_code == 404


def test_a_team_channel_has_no_page(client: Client, papers: Any) -> None:
    channel = SubscriberFactory.create(email="", via=Subscriber.Via.CHANNEL)
    _sent(channel, dt.date(2026, 11, 25), ["2611.00001"], reasons=["for the team"])

    other = token_make(subscriber_id=channel.pk, address="x@example.org", purpose=Purpose.MANAGE)
    for token in (_token(channel), other):
        got = client.get(_url(token))
        assert got.status_code in (404, 410)
        assert "for the team" not in got.content.decode()


# --- The data export ------------------------------------------------------------------------------


def test_the_export_holds_every_sent_paper_by_issue_with_reason_vote_and_notice(
    client: Client, ada: Subscriber, bob: Subscriber
) -> None:
    got = client.get(reverse("subscriptions:manage-export", kwargs={"token": _token(ada)}))

    assert got.status_code == 200
    assert json.loads(got.content)["papers_sent"] == [
        {
            "issue_date": "2026-11-23",
            "issue_kind": "daily",
            "sent_at": "2026-11-23T07:00:00+00:00",
            "papers": [
                {"arxiv_id": "2611.00003", "reason": None, "vote": None, "code_notice": False},
                {"arxiv_id": "2611.00004", "reason": None, "vote": "less", "code_notice": False},
            ],
        },
        {
            "issue_date": "2026-11-24",
            "issue_kind": "daily",
            "sent_at": "2026-11-24T07:00:00+00:00",
            "papers": [
                {
                    "arxiv_id": "2611.00001",
                    "reason": "matches: speculative decoding",
                    "vote": "more",
                    "code_notice": True,
                },
                {
                    "arxiv_id": "2611.00002",
                    "reason": "editor's pick",
                    "vote": None,
                    "code_notice": False,
                },
            ],
        },
        {
            "issue_date": "2026-11-25",
            "issue_kind": "daily",
            "sent_at": "2026-11-25T07:00:00+00:00",
            "papers": [
                {
                    "arxiv_id": "2611.00005",
                    "reason": "trending today",
                    "vote": None,
                    "code_notice": False,
                }
            ],
        },
    ]


def test_the_export_of_a_reader_never_sent_a_digest_is_empty(papers: Any) -> None:
    assert history_list_export(subscriber_id=SubscriberFactory.create().pk) == []


def test_the_export_reads_a_constant_number_of_queries(
    many: Subscriber, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(2):
        assert len(history_list_export(subscriber_id=many.pk)) == 45
