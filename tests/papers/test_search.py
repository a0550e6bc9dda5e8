"""Search finds what it says: phrases, true counts and pages, matched authors, title first.

Every test here runs on the database the suite runs on: SQLite (FTS5) by default, PostgreSQL
(search_vector) with DATABASE_URL; both must give the same answers.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import sqlite3
import unicodedata
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st
from playwright.sync_api import expect

from papers.ingest import papers_ingest, papers_search_index
from papers.models import Paper
from papers.search import search_authors_matched, search_terms_fts5, search_terms_parse
from papers.selectors import paper_search
from papers.sources.hf_api import parse
from papers.views import CARD_AUTHORS, SEARCH_PAGE_SIZE
from tests.factories import PaperFactory
from tests.helpers import SHOTS, WIDTHS, fixture_bytes

pytestmark = pytest.mark.django_db

ADMIN_PAPERS = reverse("admin:papers_paper_changelist")
MONTH_PAGE = "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"
HOSTILE = [
    '"unclosed phrase',
    '"',
    '""',
    '"a" "',
    "NEAR(sparse attention, 2)",
    "sparse*",
    "^sparse",
    "title:sparse",
    "{title abstract}: sparse",
    "- title : (sparse)",
    "sparse AND OR NOT attention",
    "AND",
    "OR OR",
    "NOT sparse",
    "sparse -",
    "-sparse",
    '-"sparse attention" -x',
    "(sparse",
    "sparse) OR (",
    "'\"&|!():*<>\\",
    "+sparse +attention",
    "a\x00b",
    "𝔰𝔭𝔞𝔯𝔰𝔢 🚀 注意",
    "sparse " * 2000,
    "x" * 10_000,
    '"' * 10_000,
]


def ids(papers: Any) -> list[str]:
    return [paper.arxiv_id for paper in papers]


def on(day: int) -> dt.datetime:
    return dt.datetime(2025, 11, day, 12, 0, tzinfo=dt.UTC)


def cards(html: str) -> list[str]:
    return re.findall(r'<h3 class="card__title"[^>]*><a [^>]*>(.*?)</a></h3>', html)


def summary(html: str) -> str:
    found = re.search(r'<p class="search-summary" role="status">(.*?)</p>', html, re.S)
    assert found is not None
    return found.group(1)


# --- What matches ----------------------------------------------------------------------------


def test_it_honours_a_quoted_phrase() -> None:
    phrase = PaperFactory.create(abstract="We train a diffusion transformer on video.")
    apart = PaperFactory.create(abstract="A transformer encoder; diffusion comes later.")

    assert set(ids(paper_search(query="diffusion transformer"))) == {
        phrase.arxiv_id,
        apart.arxiv_id,
    }
    assert ids(paper_search(query='"diffusion transformer"')) == [phrase.arxiv_id]
    assert ids(paper_search(query='"diffusion transformer')) == [phrase.arxiv_id]  # unclosed


def test_it_needs_every_word_and_honours_exclusions_and_or() -> None:
    both = PaperFactory.create(title="Quantum annealing for sparse attention", abstract="")
    quantum = PaperFactory.create(title="Quantum error correction", abstract="")
    other = PaperFactory.create(title="Protein folding", abstract="")

    assert ids(paper_search(query="quantum sparse")) == [both.arxiv_id]
    assert ids(paper_search(query="quantum -sparse")) == [quantum.arxiv_id]
    assert set(ids(paper_search(query="correction or protein"))) == {
        quantum.arxiv_id,
        other.arxiv_id,
    }


def test_it_stems_english_words_on_both_databases() -> None:
    paper = PaperFactory.create(title="Tokenizers considered harmful")

    assert ids(paper_search(query="tokenizer")) == [paper.arxiv_id]


def test_it_finds_hidden_papers_only_when_asked() -> None:
    hidden = PaperFactory.create(title="Secret quasicrystals", hidden=True)

    assert ids(paper_search(query="quasicrystals")) == []
    assert ids(paper_search(query="quasicrystals", include_hidden=True)) == [hidden.arxiv_id]


@pytest.mark.parametrize("query", HOSTILE)
def test_it_takes_hostile_queries_without_errors(client, query: str) -> None:
    PaperFactory.create(title="Sparse attention", abstract="Attention, sparse and dense.")

    found = list(paper_search(query=query))
    response = client.get("/search/", {"q": query, "page": "2"})

    assert paper_search(query=query).count() == len(found)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("query", "finds"),
    [
        ("NEAR(sparse attention, 2)", False),  # not FTS5's NEAR: "near" is a word no paper has
        ("title:sparse", False),  # not a column filter: "title" is a word too
        ("{title abstract}: sparse", False),
        ("sparse*", True),  # not a prefix: the word sparse
        ("^sparse", True),  # not "first word of the column": the word sparse
        ("+sparse +attention", True),
        ("(sparse", True),
        ("NOT sparse", True),  # "not" is a stop word on PostgreSQL, and so on SQLite
        ('"unclosed sparse', False),  # the phrase "unclosed sparse"
        ("the and of", False),  # only stop words: nothing to look for
    ],
)
def test_fts5_syntax_is_read_as_plain_words(query: str, *, finds: bool) -> None:
    PaperFactory.create(title="Sparse attention", abstract="Attention, sparse and dense.")

    assert bool(ids(paper_search(query=query))) is finds


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab\" -*^:(){}+NEARORTA\\'\x00é"), max_size=40))
def test_every_query_is_a_valid_fts5_expression(query: str) -> None:
    """Whatever is typed, SQLite's FTS5 parses the expression (checked in SQLite, not Django)."""
    index = sqlite3.connect(":memory:")
    index.execute("CREATE VIRTUAL TABLE t USING fts5(title, authors, abstract)")
    index.execute("INSERT INTO t VALUES ('ab ba', 'NEAR OR', 'é a b')")
    terms = search_terms_parse(query)
    for column in (None, "title", "authors"):
        if terms:
            expression = search_terms_fts5(terms, column=column)
            index.execute("SELECT rowid FROM t WHERE t MATCH ?", [expression]).fetchall()


def test_it_reads_a_query_as_websearch_to_tsquery_does() -> None:
    terms = search_terms_parse('a "b c" or -d NEAR* x"y')

    # "a" is a stop word; OR splits groups; -d excludes; an unclosed quote runs to the end.
    assert search_terms_fts5(terms) == '("b c") OR (("NEAR*" AND "x" AND "y") NOT ("d"))'
    assert search_terms_fts5(terms, column="title").startswith("{title} : (")


# --- Order -----------------------------------------------------------------------------------


def test_it_ranks_title_then_authors_then_abstract_then_newest() -> None:
    in_abstract = PaperFactory.create(
        title="A survey",
        abstract="Hopfield networks, Hopfield energy, Hopfield memory.",
        upvotes=900,
        published_at=on(25),
    )
    by_author = PaperFactory.create(
        title="Energy landscapes", authors=["John Hopfield"], published_at=on(24)
    )
    older = PaperFactory.create(title="Hopfield networks revisited", published_at=on(2))
    newer = PaperFactory.create(title="Hopfield networks revisited", published_at=on(20))

    assert ids(paper_search(query="hopfield")) == [
        newer.arxiv_id,
        older.arxiv_id,
        by_author.arxiv_id,
        in_abstract.arxiv_id,
    ]


def test_it_ranks_a_title_with_every_word_first() -> None:
    split = PaperFactory.create(title="Graph transformers", abstract="Sheaf theory.", upvotes=500)
    whole = PaperFactory.create(title="Sheaf graph networks", abstract="Plain.", upvotes=0)

    assert ids(paper_search(query="sheaf graph")) == [whole.arxiv_id, split.arxiv_id]


# --- Counts and pages ------------------------------------------------------------------------


def make_matches(count: int) -> list[Paper]:
    """`count` papers about zeolites, newest first as search orders them (same text, same rank)."""
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    made = [
        PaperFactory.build(
            arxiv_id=f"2501.{n:05d}",
            title="Zeolite catalysis",
            published_at=start + dt.timedelta(hours=n),
            first_seen_at=start,
            last_seen_at=start,
        )
        for n in range(count)
    ]
    Paper.objects.bulk_create(made)
    papers_search_index()
    return made[::-1]


def test_it_counts_every_match_with_no_cap() -> None:
    make_matches(73)

    assert paper_search(query="zeolite").count() == 73
    assert len(paper_search(query="zeolite", limit=5)) == 5


def test_the_page_says_the_true_count_and_pages_through_every_match(client) -> None:
    papers = make_matches(SEARCH_PAGE_SIZE * 2 + 5)
    query = '"zeolite catalysis"'

    first = client.get("/search/", {"q": query}).content.decode()
    last = client.get("/search/", {"q": query, "page": "3"}).content.decode()

    assert summary(first).startswith(f"{len(papers)} papers match")
    assert "showing 1–20" in summary(first)
    assert "showing 41–45" in summary(last)
    seen = [
        re.findall(
            r'href="/papers/([\d.]+)/"',
            client.get("/search/", {"q": query, "page": n}).content.decode(),
        )
        for n in (1, 2, 3)
    ]
    assert [arxiv_id for page in seen for arxiv_id in page] == ids(papers)
    # Page links keep the query (quotes and all); ranks run on from page to page.
    assert 'href="?q=%22zeolite%20catalysis%22&amp;page=2"' in first
    assert 'href="?q=%22zeolite%20catalysis%22&amp;page=2"' in last  # "previous"
    assert "page=4" not in last
    assert re.search(r'<span class="visually-hidden">Rank </span>41</span>', last)


@pytest.mark.parametrize("page", ["0", "-1", "4", "abc", "", "1.5", "9" * 5000, "\x00"])
def test_a_bad_page_number_shows_the_first_page(client, page: str) -> None:
    make_matches(SEARCH_PAGE_SIZE + 5)

    response = client.get("/search/", {"q": "zeolite", "page": page})

    assert response.status_code == 200
    assert "showing 1–20" in summary(response.content.decode())


def test_the_search_page_costs_two_queries(client, django_assert_max_num_queries) -> None:
    make_matches(30)

    with django_assert_max_num_queries(2):  # the count and the page
        client.get("/search/", {"q": "zeolite", "page": "2"})


# --- The matched author --------------------------------------------------------------------


ATLAS = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Georg Bökman"]


def test_the_card_shows_a_matched_author_the_list_folds_away(client) -> None:
    PaperFactory.create(title="Collider physics", authors=ATLAS)

    html = client.get("/search/", {"q": "bökman"}).content.decode()
    visible = client.get("/search/", {"q": "turing"}).content.decode()

    assert cards(html) == ["Collider physics"]
    assert "+2 (5 authors)" in html
    assert "matched: <strong>Georg Bökman</strong>" in html
    assert "matched:" not in visible  # Alan Turing is on the card already


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dijkstra", ["Edsger Dijkstra"]),
        ("DIJKSTRA hopper", ["Grace Hopper", "Edsger Dijkstra"]),
        ('"edsger dijkstra"', ["Edsger Dijkstra"]),
        ('"dijkstra edsger"', []),  # a phrase, in its order
        (unicodedata.normalize("NFD", "Bökman"), ["Georg Bökman"]),
        ("physics -dijkstra", []),  # an excluded name never "matched"
        ("dijk", []),  # whole words, as the index
    ],
)
def test_it_names_the_authors_a_query_matched(query: str, expected: list[str]) -> None:
    assert search_authors_matched(query=query, authors=ATLAS) == expected


# --- The SQLite index ------------------------------------------------------------------------


@pytest.fixture
def on_sqlite() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the FTS5 table is SQLite's")


@pytest.mark.usefixtures("on_sqlite")
def test_the_fts5_index_follows_every_write() -> None:
    paper = PaperFactory.create(title="Perovskite solar cells", authors=["Marie Curie"])
    assert ids(paper_search(query="perovskite")) == [paper.arxiv_id]

    Paper.objects.filter(pk=paper.pk).update(title="Organic solar cells", authors=["Pierre Curie"])
    assert ids(paper_search(query="perovskite")) == []
    assert ids(paper_search(query="pierre organic")) == [paper.arxiv_id]

    Paper.objects.filter(pk=paper.pk).update(last_seen_at=on(28))  # text unchanged
    assert ids(paper_search(query="pierre organic")) == [paper.arxiv_id]

    paper.delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM papers_paper_fts")
        assert cursor.fetchone()[0] == 0


@pytest.mark.usefixtures("on_sqlite")
def test_the_migration_indexes_the_papers_already_there() -> None:
    migration = importlib.import_module("papers.migrations.0005_paper_search_fts")
    paper = PaperFactory.create(title="Zeolite catalysis", authors=["Georg Bökman"])
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM papers_paper_fts")  # as before the migration
        assert ids(paper_search(query="zeolite")) == []

        cursor.execute(migration.CREATE[-1])  # its backfill

    assert ids(paper_search(query="bökman zeolite")) == [paper.arxiv_id]


@pytest.mark.usefixtures("on_sqlite")
def test_the_ingest_fills_the_fts5_index() -> None:
    records = parse(fixture_bytes(MONTH_PAGE)).records
    papers_ingest(records=records, fetch_run=None)
    first = records[0]

    assert first.arxiv_id in ids(paper_search(query=f'"{first.title}"'))


# --- The admin -----------------------------------------------------------------------------


def admin_listed(admin_client, query: str) -> set[str]:
    response = admin_client.get(ADMIN_PAPERS, {"q": query})
    assert response.status_code == 200
    return {paper.arxiv_id for paper in response.context["cl"].result_list}


@pytest.mark.parametrize(
    "query",
    [
        '"diffusion transformer"',
        "diffusion transformer",
        "bökman",
        "tokenizer",
        "x -y",
        '"',
        "NEAR(",
    ],
)
def test_the_admin_finds_what_the_public_search_finds(admin_client, query: str) -> None:
    PaperFactory.create(abstract="We train a diffusion transformer on video.")
    PaperFactory.create(abstract="A transformer encoder; diffusion comes later.")
    PaperFactory.create(title="Tokenizers considered harmful", hidden=True)
    PaperFactory.create(title="Collider physics", authors=ATLAS)

    expected = set(ids(paper_search(query=query, include_hidden=True)))

    assert admin_listed(admin_client, query) == expected


def test_the_admin_finds_a_paper_by_arxiv_id_and_hidden_ones(admin_client) -> None:
    hidden = PaperFactory.create(arxiv_id="2511.04242", title="Quasicrystals", hidden=True)

    assert admin_listed(admin_client, "2511.04242") == {hidden.arxiv_id}
    assert admin_listed(admin_client, "quasicrystals") == {hidden.arxiv_id}


# --- In the browser ------------------------------------------------------------------------


@pytest.fixture
def month_of_papers() -> None:
    """A hundred real papers from a captured HF response, through the real ingest."""
    papers_ingest(records=parse(fixture_bytes(MONTH_PAGE)).records, fetch_run=None)
    papers_search_index()


def an_author_the_card_folds() -> str:
    """The last author of the first paper with more authors than a card shows."""
    for authors in Paper.objects.order_by("arxiv_id").values_list("authors", flat=True):
        if len(authors) > CARD_AUTHORS + 1:
            return authors[-1]
    raise AssertionError("the fixture has no paper with many authors")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_search_page_looks_right_in_chromium(
    browser, live_server, month_of_papers, device: str
) -> None:
    width, height = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": height})
    # No network in tests: only the live server answers.
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(live_server.url + "/search/?q=model&page=2")
        total = paper_search(query="model").count()
        assert total > 2 * SEARCH_PAGE_SIZE  # so page 2 has a page before and after it
        assert page.get_by_role("status").inner_text().startswith(f"{total} papers match")
        expect(page.get_by_role("link", name=re.compile("Previous page"))).to_be_visible()
        expect(page.get_by_role("link", name=re.compile("Next page"))).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"search-pages-{device}.png"), full_page=True)
        page.locator(".pager").screenshot(path=str(SHOTS / f"search-pager-{device}.png"))

        author = an_author_the_card_folds()
        page.goto(live_server.url + "/search/?q=" + quote(f'"{author}"'))
        matched = page.locator(".card__matched").first
        expect(matched).to_be_visible()
        assert author in matched.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(SHOTS / f"search-author-{device}.png"), full_page=True)
    finally:
        context.close()
