from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.urls import reverse

from papers.models import Paper, PaperThumbnail
from tests.factories import PaperFactory, PaperMetricFactory, papers_from_hf_fixture
from tests.helpers import fixture_bytes, matched

pytestmark = pytest.mark.django_db

DERIVED_DAY = "hf_daily_papers/DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json"
XSS = "<script>alert(1)</script>"


@pytest.fixture
def real_day() -> list[dict]:
    """The 12 real HF items of 2025-11-20 as Paper rows; returns the raw items."""
    papers_from_hf_fixture(fixture_bytes(DERIVED_DAY))
    return json.loads(fixture_bytes(DERIVED_DAY))


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def card_titles(html: str) -> list[str]:
    return re.findall(r'<h3 class="card__title"[^>]*><a [^>]*>(.*?)</a></h3>', html)


# --- Home and period views -----------------------------------------------------------------


def test_it_shows_the_latest_day_with_papers_ranked_on_the_home_page(client, real_day) -> None:
    PaperFactory.create(hf_date=dt.date(2025, 11, 19), title="Yesterday's paper")

    html = html_of(client.get("/"))

    # No history yet: one day ranks by upvotes, like HF's own list (the fixture's order).
    by_upvotes = sorted(real_day, key=lambda item: (-item["paper"]["upvotes"], item["paper"]["id"]))
    expected = [" ".join(item["paper"]["title"].split()) for item in by_upvotes]
    assert [
        title.replace("&#x27;", "'").replace("&amp;", "&") for title in card_titles(html)
    ] == expected
    assert "Thursday, November 20, 2025" in html
    assert "Yesterday&#x27;s paper" not in html
    assert reverse("papers:day", kwargs={"day": "2025-11-19"}) in html  # previous day link


def test_it_shows_each_paper_with_authors_summary_counts_and_links(client, real_day) -> None:
    kandinsky = next(item for item in real_day if item["paper"]["id"] == "2511.14993")
    authors = [author["name"] for author in kandinsky["paper"]["authors"]]
    # The worker fetched its thumbnail: the card shows our copy, never the CDN's.
    paper = Paper.objects.get(arxiv_id="2511.14993")
    fetched_at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    PaperThumbnail.objects.create(
        paper=paper,
        source_url=paper.thumbnail,
        content_type="image/png",
        data=b"\x89PNG\r\n\x1a\n",
        fetched_at=fetched_at,
    )

    html = html_of(client.get("/"))
    card = html[html.index("Kandinsky 5.0") - 1500 : html.index("Kandinsky 5.0") + 3000]

    assert ", ".join(authors[:3]) in card
    assert f"+{len(authors) - 3} ({len(authors)} authors)" in card
    assert kandinsky["paper"]["ai_summary"][:120] in card
    assert "234" in card
    assert "7 comments" in card
    assert 'href="https://huggingface.co/papers/2511.14993"' in card
    assert 'href="https://arxiv.org/abs/2511.14993"' in card
    assert 'href="https://arxiv.org/pdf/2511.14993"' in card
    assert f'href="{kandinsky["paper"]["githubRepo"]}"' in card
    assert 'href="https://kandinskylab.ai/"' in card
    assert f'src="/papers/2511.14993/thumbnail?v={int(fetched_at.timestamp())}"' in card
    assert 'loading="lazy"' in card
    assert 'alt="Thumbnail of' in card
    assert "cdn-thumbnails" not in html


def test_it_shows_stars_next_to_the_code_link(client) -> None:
    PaperFactory.create(github_repo="https://github.com/example/repo", github_stars=12345)

    html = html_of(client.get("/"))

    assert re.search(
        r'href="https://github.com/example/repo"[^>]*>Code <span[^>]*>★ 12.3k</span>', html
    )


def test_it_cuts_a_long_abstract_when_there_is_no_ai_summary(client) -> None:
    PaperFactory.create(ai_summary="", abstract="word " * 200 + "THE-END")

    html = html_of(client.get("/"))

    assert "THE-END" not in html
    assert "word word" in html
    assert "…" in html


def test_it_marks_featured_papers(client) -> None:
    PaperFactory.create(featured=True)

    assert "badge--featured" in html_of(client.get("/"))


def test_it_says_so_when_there_are_no_papers_yet(client) -> None:
    assert "No papers yet" in html_of(client.get("/"))


def test_it_has_the_subscribe_box_sending_the_email_to_the_subscribe_page(client) -> None:
    PaperFactory.create()

    html = html_of(client.get("/"))

    assert "Get trending papers in your email inbox" in html
    form = re.search(
        r'<form action="([^"]+)" method="get" class="subscribe__form">(.*?)</form>', html, re.S
    )
    assert form
    assert form.group(1) == reverse("subscriptions:subscribe")
    assert 'type="email" name="email"' in form.group(2)
    assert '<label for="subscribe-email">' in form.group(2)


def test_the_subscribe_page_echoes_no_invalid_address_back(client) -> None:
    html = html_of(client.get(reverse("subscriptions:subscribe"), {"email": f"a@b.c{XSS}"}))

    assert "alert(1)" not in html
    assert "a@b.c" not in html


def test_the_day_week_and_month_views_list_their_papers(client, real_day) -> None:
    PaperFactory.create(hf_date=dt.date(2025, 11, 17), title="Monday paper")
    PaperFactory.create(hf_date=dt.date(2025, 11, 3), title="Early November paper")
    PaperFactory.create(hf_date=dt.date(2025, 10, 30), title="October paper")

    week = html_of(client.get("/papers/week/2025-W47/"))
    month = html_of(client.get("/papers/month/2025-11/"))
    day = html_of(client.get("/papers/date/2025-11-17/"))

    assert "Monday paper" in week
    assert "Kandinsky 5.0" in week
    assert "Early November" not in week
    assert "Week 47, 2025" in week
    assert 'href="/papers/week/2025-W45/"' in week  # previous week with papers (W46 has none)
    assert "Early November paper" in month
    assert "October paper" not in month
    assert 'href="/papers/month/2025-10/"' in month
    assert card_titles(day) == ["Monday paper"]
    assert 'href="/papers/date/2025-11-20/"' in day  # next day with papers, skipping empty ones
    assert 'href="/papers/date/2025-11-03/"' in day


def test_the_week_and_month_rank_by_votes_while_the_day_keeps_trending(
    client, time_machine
) -> None:
    time_machine.move_to(
        dt.datetime(2025, 11, 23, 8, 0, tzinfo=dt.UTC)
    )  # the last morning of 2025-W47
    old_hit = PaperFactory.create(hf_date=dt.date(2025, 11, 17), upvotes=100, title="Monday hit")
    PaperMetricFactory.create(
        paper=old_hit, upvotes=95, captured_at=dt.datetime(2025, 11, 18, tzinfo=dt.UTC)
    )
    PaperFactory.create(hf_date=dt.date(2025, 11, 23), upvotes=30, title="Sunday newcomer")
    PaperFactory.create(hf_date=dt.date(2025, 11, 23), upvotes=1, title="Sunday quiet one")

    week = html_of(client.get("/papers/week/2025-W47/"))
    month = html_of(client.get("/papers/month/2025-11/"))
    day = html_of(client.get("/papers/date/2025-11-23/"))

    assert card_titles(week) == ["Monday hit", "Sunday newcomer", "Sunday quiet one"]
    assert card_titles(month) == ["Monday hit", "Sunday newcomer", "Sunday quiet one"]
    assert "Papers ranked by upvotes" in week
    assert "Papers ranked by upvotes" in month
    assert card_titles(day) == ["Sunday newcomer", "Sunday quiet one"]
    assert "Papers ranked by trending" in day


def test_the_tabs_switch_between_day_week_and_month(client, real_day) -> None:
    html = html_of(client.get("/papers/date/2025-11-20/"))

    tabs = matched(r'<nav class="tabs"(.*?)</nav>', html, re.S).group(1)
    assert 'href="/papers/date/2025-11-20/" aria-current="page"' in tabs
    assert 'href="/papers/week/2025-W47/"' in tabs
    assert 'href="/papers/month/2025-11/"' in tabs


def test_an_empty_day_says_so_and_still_links_to_neighbours(client, real_day) -> None:
    html = html_of(client.get("/papers/date/2025-11-22/"))

    assert "No papers for this day" in html
    assert 'href="/papers/date/2025-11-20/"' in html


@pytest.mark.parametrize(
    "url",
    [
        "/papers/date/2025-02-30/",
        "/papers/date/2025-13-01/",
        "/papers/date/20251120/",
        "/papers/week/2025-W54/",
        "/papers/week/2025-W00/",
        "/papers/month/2025-00/",
        "/papers/month/2025-13/",
        "/papers/date/0000-01-01/",
        "/papers/date/9999-12-31/",
        "/papers/week/9999-W52/",
        "/papers/month/9999-12/",
        "/papers/date/0001-01-01/",
    ],
)
def test_impossible_dates_are_not_found(client, url: str) -> None:
    assert client.get(url).status_code == 404


def test_it_pages_through_a_long_list(client) -> None:
    PaperFactory.create_batch(55, hf_date=dt.date(2025, 11, 20))

    first = html_of(client.get("/papers/date/2025-11-20/"))
    second = html_of(client.get("/papers/date/2025-11-20/", {"page": "2"}))

    assert len(card_titles(first)) == 50
    assert 'href="?page=2"' in first
    assert len(card_titles(second)) == 5
    assert "?page=3" not in second
    assert '<ol class="cards" start="51">' in second
    assert client.get("/papers/date/2025-11-20/", {"page": "nope"}).status_code == 200


# --- Paper page ----------------------------------------------------------------------------


def test_the_paper_page_shows_everything_about_it(client, real_day) -> None:
    kandinsky = next(item for item in real_day if item["paper"]["id"] == "2511.14993")["paper"]

    paper = Paper.objects.get(arxiv_id="2511.14993")
    paper.categories = ["cs.CV", "cs.AI"]
    paper.save()
    base = dt.datetime(2025, 11, 20, tzinfo=dt.UTC)
    for hours, upvotes in [(0, 12), (6, 80), (12, 234)]:
        PaperMetricFactory.create(
            paper=paper, upvotes=upvotes, captured_at=base + dt.timedelta(hours=hours)
        )

    html = html_of(client.get("/papers/2511.14993/"))

    assert " ".join(kandinsky["summary"].split())[-80:] in html  # the full abstract
    for author in kandinsky["authors"]:
        assert f"<li>{author['name']}</li>" in html
    for keyword in kandinsky["ai_keywords"]:
        assert f"<li>{keyword}</li>" in html
    assert "<li>cs.CV</li>" in html
    assert "<polyline" in html
    assert 'aria-label="Upvotes went from 12 to 234 over 3 snapshots"' in html
    assert 'href="/papers/date/2025-11-20/"' in html


def test_the_paper_page_takes_old_style_ids(client) -> None:
    PaperFactory.create(arxiv_id="astro-ph/0601001", title="An old-style paper")

    assert "An old-style paper" in html_of(client.get("/papers/astro-ph/0601001/"))
    assert (
        reverse("papers:detail", kwargs={"arxiv_id": "astro-ph/0601001"})
        == "/papers/astro-ph/0601001/"
    )


def test_a_versioned_id_redirects_to_the_paper(client) -> None:
    PaperFactory.create(arxiv_id="2104.12255")

    response = client.get("/papers/2104.12255v1/")

    assert response.status_code == 301
    assert response["Location"] == "/papers/2104.12255/"


def test_unknown_and_hidden_papers_are_not_found(client) -> None:
    PaperFactory.create(arxiv_id="2511.00001", hidden=True)

    assert client.get("/papers/2511.00001/").status_code == 404
    assert client.get("/papers/2511.99999/").status_code == 404
    assert client.get("/papers/not-an-id/").status_code == 404


# --- Search --------------------------------------------------------------------------------


def test_search_without_a_query_shows_a_prompt(client) -> None:
    html = html_of(client.get("/search/"))

    assert '<label for="q">' in html
    assert "Type a few words" in html


def test_search_shows_matching_papers_with_the_same_cards(client, real_day) -> None:
    html = html_of(client.get("/search/", {"q": "Kandinsky"}))

    assert card_titles(html)[0].startswith("Kandinsky 5.0")
    assert 'href="https://arxiv.org/abs/2511.14993"' in html


def test_search_finds_an_author_with_an_accented_name(client, real_day) -> None:
    rowma = next(
        item["paper"]
        for item in real_day
        if "Georg Bökman" in [a["name"] for a in item["paper"]["authors"]]
    )

    html = html_of(client.get("/search/", {"q": "bökman"}))

    assert card_titles(html) == [" ".join(rowma["title"].split())]


def test_search_says_when_nothing_matches(client, real_day) -> None:
    assert "No papers match" in html_of(client.get("/search/", {"q": "zzzqqq"}))


def test_search_takes_an_overlong_query(client, real_day) -> None:
    html = html_of(client.get("/search/", {"q": "video " * 100}))

    assert "shortened to 200 characters" in html


# --- Safety --------------------------------------------------------------------------------


def test_scraped_text_is_escaped_everywhere(client) -> None:
    PaperFactory.create(
        arxiv_id="2511.00001",
        title=f"Attention {XSS}",
        authors=[f"Mallory {XSS}"],
        ai_summary=f"Summary {XSS}",
        abstract=f"Abstract {XSS}",
        ai_keywords=[f"kw {XSS}"],
    )
    pages = [
        client.get("/"),
        client.get("/papers/2511.00001/"),
        client.get("/search/", {"q": "Attention"}),
        client.get("/search/", {"q": f"Attention {XSS}"}),
    ]

    for response in pages:
        html = html_of(response)
        assert XSS not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_only_http_links_become_links(client) -> None:
    PaperFactory.create(
        arxiv_id="2511.00001",
        github_repo="javascript:alert(1)",
        project_page="data:text/html,hi",
        thumbnail="javascript:alert(2)",
    )

    for html in (html_of(client.get("/")), html_of(client.get("/papers/2511.00001/"))):
        assert "javascript:" not in html
        assert "data:text" not in html
        assert ">Code" not in html
        assert "Project page" not in html


# --- Query counts --------------------------------------------------------------------------


@pytest.mark.parametrize("count", [5, 200])
def test_the_pages_take_a_fixed_number_of_queries(
    client, django_assert_max_num_queries, count: int
) -> None:
    papers = PaperFactory.create_batch(
        count, hf_date=dt.date(2025, 11, 20), authors=["A", "B", "C", "D", "E"]
    )
    for paper in papers[:5]:
        PaperMetricFactory.create(paper=paper, captured_at=dt.datetime(2025, 11, 19, tzinfo=dt.UTC))
    PaperMetricFactory.create_batch(30, paper=papers[0])

    for url in [
        "/",
        "/papers/date/2025-11-20/",
        "/papers/week/2025-W47/",
        "/papers/month/2025-11/",
        f"/papers/{papers[0].arxiv_id}/",
        "/search/?q=sparse",
    ]:
        with django_assert_max_num_queries(10):
            assert client.get(url).status_code == 200
