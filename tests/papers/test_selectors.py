from __future__ import annotations

import datetime as dt
import json
import unicodedata

import pytest
from django.db import connection

from papers.selectors import (
    paper_days_around,
    paper_latest_day,
    paper_list_trending,
    paper_search,
)
from tests.factories import PaperFactory, PaperMetricFactory, papers_from_hf_fixture
from tests.helpers import fixture_bytes

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 11, 20)
NOW = dt.datetime(2025, 11, 20, 8, 0, tzinfo=dt.UTC)  # 8 hours into DAY
DERIVED_DAY = "hf_daily_papers/DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json"
AUGUST_2023 = "hf_daily_papers/api_daily_papers_month-2023-08_sort-publishedAt_all-pages.json"


def expected_score(*, upvotes: int, growth: int, age_hours: float) -> float:
    """The documented formula, written out independently of the SQL."""
    return (upvotes + 1 + 2 * growth) / (age_hours + 2) ** 1.5


def ids(papers) -> list[str]:
    return [paper.arxiv_id for paper in papers]


def test_it_scores_papers_with_the_documented_formula() -> None:
    paper = PaperFactory.create(upvotes=50, hf_date=DAY)
    PaperMetricFactory.create(paper=paper, upvotes=45, captured_at=NOW - dt.timedelta(hours=30))

    [scored] = paper_list_trending(start=DAY, end=DAY, now=NOW)

    assert scored.growth_24h == 5
    assert scored.age_hours == pytest.approx(8.0)
    assert scored.trending_score == pytest.approx(
        expected_score(upvotes=50, growth=5, age_hours=8.0)
    )


def test_it_ranks_a_paper_gaining_votes_now_above_a_bigger_one_that_stalled() -> None:
    stalled = PaperFactory.create(upvotes=50, hf_date=DAY)
    PaperMetricFactory.create(paper=stalled, upvotes=48, captured_at=NOW - dt.timedelta(hours=26))
    rising = PaperFactory.create(upvotes=40, hf_date=DAY)
    PaperMetricFactory.create(paper=rising, upvotes=5, captured_at=NOW - dt.timedelta(hours=26))

    assert ids(paper_list_trending(start=DAY, end=DAY, now=NOW)) == [
        rising.arxiv_id,
        stalled.arxiv_id,
    ]


def test_it_measures_growth_from_the_latest_snapshot_at_least_a_day_old() -> None:
    paper = PaperFactory.create(upvotes=30, hf_date=DAY)
    PaperMetricFactory.create(paper=paper, upvotes=2, captured_at=NOW - dt.timedelta(hours=72))
    PaperMetricFactory.create(
        paper=paper, upvotes=10, captured_at=NOW - dt.timedelta(hours=24)
    )  # the baseline
    PaperMetricFactory.create(
        paper=paper, upvotes=29, captured_at=NOW - dt.timedelta(hours=1)
    )  # too recent

    [scored] = paper_list_trending(start=DAY, end=DAY, now=NOW)

    assert scored.growth_24h == 20


def test_it_counts_all_votes_as_growth_without_an_old_snapshot_and_never_negative_growth() -> None:
    new = PaperFactory.create(upvotes=12, hf_date=DAY)
    shrinking = PaperFactory.create(upvotes=3, hf_date=DAY)
    PaperMetricFactory.create(paper=shrinking, upvotes=9, captured_at=NOW - dt.timedelta(days=2))

    scored = {paper.arxiv_id: paper for paper in paper_list_trending(start=DAY, end=DAY, now=NOW)}

    assert scored[new.arxiv_id].growth_24h == 12
    assert scored[shrinking.arxiv_id].growth_24h == 0


def test_the_day_view_still_decays_a_paper_by_its_age_from_now() -> None:
    yesterday = DAY - dt.timedelta(days=1)
    paper = PaperFactory.create(upvotes=20, hf_date=yesterday)

    [scored] = paper_list_trending(start=yesterday, end=yesterday, now=NOW)

    assert scored.arxiv_id == paper.arxiv_id
    assert scored.age_hours == pytest.approx(32.0)
    assert scored.trending_score == pytest.approx(
        expected_score(upvotes=20, growth=20, age_hours=32.0)
    )


def test_it_ages_a_paper_without_hf_date_from_its_publication_time() -> None:
    paper = PaperFactory.create(
        hf_date=None, published_at=NOW - dt.timedelta(hours=5, minutes=30), upvotes=0
    )

    [scored] = paper_list_trending(start=DAY, end=DAY, now=NOW)

    assert scored.arxiv_id == paper.arxiv_id
    assert scored.age_hours == pytest.approx(5.5)


def test_it_never_gives_a_negative_age_to_a_paper_dated_after_now() -> None:
    tomorrow = DAY + dt.timedelta(days=1)
    PaperFactory.create(hf_date=tomorrow, upvotes=4)

    [scored] = paper_list_trending(start=tomorrow, end=tomorrow, now=NOW)

    assert scored.age_hours == 0
    assert scored.trending_score == pytest.approx(expected_score(upvotes=4, growth=4, age_hours=0))


# The ISO week 2025-W47, Monday 17 to Sunday 23 November, seen on its last morning.
WEEK_START, WEEK_END = dt.date(2025, 11, 17), dt.date(2025, 11, 23)
WEEK_NOW = dt.datetime(2025, 11, 23, 8, 0, tzinfo=dt.UTC)


def test_a_week_ranks_an_old_well_liked_paper_above_a_new_lightly_liked_one() -> None:
    old_hit = PaperFactory.create(upvotes=100, hf_date=WEEK_START)
    PaperMetricFactory.create(
        paper=old_hit, upvotes=95, captured_at=WEEK_NOW - dt.timedelta(days=5)
    )
    new = PaperFactory.create(
        upvotes=30, hf_date=WEEK_END
    )  # no snapshot a day old: all 30 votes are recent

    week = list(paper_list_trending(start=WEEK_START, end=WEEK_END, now=WEEK_NOW))

    assert ids(week) == [old_hit.arxiv_id, new.arxiv_id]
    assert [paper.trending_score for paper in week] == pytest.approx([100 + 5, 30 + 30])
    # The day view keeps the decayed score, under which the new paper would have won the week.
    [old_day] = paper_list_trending(start=WEEK_START, end=WEEK_START, now=WEEK_NOW)
    [new_day] = paper_list_trending(start=WEEK_END, end=WEEK_END, now=WEEK_NOW)
    assert old_day.trending_score == pytest.approx(
        expected_score(upvotes=100, growth=5, age_hours=152.0)
    )
    assert new_day.trending_score == pytest.approx(
        expected_score(upvotes=30, growth=30, age_hours=8.0)
    )
    assert new_day.trending_score > 40 * old_day.trending_score


def test_a_week_counts_the_last_days_votes_twice() -> None:
    stalled = PaperFactory.create(upvotes=50, hf_date=WEEK_START)
    PaperMetricFactory.create(
        paper=stalled, upvotes=48, captured_at=WEEK_NOW - dt.timedelta(days=2)
    )
    rising = PaperFactory.create(upvotes=40, hf_date=WEEK_START + dt.timedelta(days=2))
    PaperMetricFactory.create(paper=rising, upvotes=20, captured_at=WEEK_NOW - dt.timedelta(days=2))

    week = list(paper_list_trending(start=WEEK_START, end=WEEK_END, now=WEEK_NOW))

    assert ids(week) == [rising.arxiv_id, stalled.arxiv_id]
    assert [paper.trending_score for paper in week] == pytest.approx([40 + 20, 50 + 2])


def test_a_month_ranks_by_votes_in_one_query_without_hidden_or_withdrawn_papers(
    django_assert_num_queries,
) -> None:
    first = dt.date(2025, 11, 1)
    early = PaperFactory.create(upvotes=80, hf_date=first)
    late = PaperFactory.create(upvotes=20, hf_date=WEEK_END)
    arxiv_only = PaperFactory.create(
        upvotes=50, hf_date=None, published_at=dt.datetime(2025, 11, 10, 9, tzinfo=dt.UTC)
    )
    PaperFactory.create(upvotes=900, hf_date=first, hidden=True)
    PaperFactory.create(upvotes=900, hf_date=first, withdrawn_at=WEEK_NOW)
    PaperFactory.create(upvotes=900, hf_date=dt.date(2025, 12, 1))

    with django_assert_num_queries(1):
        month = list(paper_list_trending(start=first, end=dt.date(2025, 11, 30), now=WEEK_NOW))

    assert ids(month) == [early.arxiv_id, arxiv_only.arxiv_id, late.arxiv_id]


def test_it_breaks_ties_by_upvotes_then_arxiv_id() -> None:
    PaperFactory.create(arxiv_id="2511.00002", upvotes=7, hf_date=DAY)
    PaperFactory.create(arxiv_id="2511.00001", upvotes=7, hf_date=DAY)

    assert ids(paper_list_trending(start=DAY, end=DAY, now=NOW)) == ["2511.00001", "2511.00002"]


def test_it_lists_only_the_window_by_hf_date_else_publication_date() -> None:
    on_day = PaperFactory.create(hf_date=DAY)
    arxiv_only = PaperFactory.create(
        hf_date=None, published_at=dt.datetime(2025, 11, 20, 23, 59, tzinfo=dt.UTC)
    )
    PaperFactory.create(
        hf_date=DAY + dt.timedelta(days=1), published_at=dt.datetime(2025, 11, 20, 1, tzinfo=dt.UTC)
    )
    PaperFactory.create(hf_date=None, published_at=dt.datetime(2025, 11, 21, 0, 0, tzinfo=dt.UTC))
    PaperFactory.create(hf_date=DAY - dt.timedelta(days=1))

    assert set(ids(paper_list_trending(start=DAY, end=DAY, now=NOW))) == {
        on_day.arxiv_id,
        arxiv_only.arxiv_id,
    }


def test_it_never_lists_hidden_or_withdrawn_papers() -> None:
    shown = PaperFactory.create(hf_date=DAY)
    PaperFactory.create(hf_date=DAY, hidden=True, upvotes=500)
    PaperFactory.create(hf_date=DAY, withdrawn_at=NOW, upvotes=500)

    assert ids(paper_list_trending(start=DAY, end=DAY, now=NOW)) == [shown.arxiv_id]


def test_it_ranks_a_real_day_in_one_query(django_assert_num_queries) -> None:
    items = json.loads(fixture_bytes(DERIVED_DAY))
    papers_from_hf_fixture(fixture_bytes(DERIVED_DAY))
    # Same day, no history: the ranking is by upvotes, as HF's own list (the fixture's order).
    by_upvotes = sorted(items, key=lambda item: (-item["paper"]["upvotes"], item["paper"]["id"]))

    with django_assert_num_queries(1):
        ranked = list(paper_list_trending(start=DAY, end=DAY, limit=5))

    assert ids(ranked) == [item["paper"]["id"] for item in by_upvotes[:5]]
    assert ranked[0].arxiv_id == "2511.14993"  # Kandinsky 5.0, 234 upvotes


def test_it_finds_the_latest_day_with_papers_and_its_neighbours() -> None:
    PaperFactory.create(hf_date=dt.date(2025, 11, 14))
    PaperFactory.create(hf_date=dt.date(2025, 11, 20))
    PaperFactory.create(hf_date=None, published_at=dt.datetime(2025, 11, 17, 18, tzinfo=dt.UTC))
    PaperFactory.create(hf_date=dt.date(2025, 11, 18), hidden=True)
    PaperFactory.create(hf_date=dt.date(2025, 11, 25))  # after "now": not the latest day

    assert paper_latest_day(now=NOW) == DAY
    assert paper_days_around(start=DAY, end=DAY) == (dt.date(2025, 11, 17), dt.date(2025, 11, 25))
    assert paper_days_around(start=dt.date(2025, 11, 17), end=dt.date(2025, 11, 17)) == (
        dt.date(2025, 11, 14),
        DAY,
    )
    assert paper_days_around(start=dt.date(2025, 11, 1), end=dt.date(2025, 11, 30)) == (None, None)


def test_it_takes_the_extreme_dates() -> None:
    PaperFactory.create(hf_date=None, published_at=dt.datetime(2025, 11, 20, tzinfo=dt.UTC))

    assert list(paper_list_trending(start=dt.date(9999, 12, 31), end=dt.date.max, now=NOW)) == []
    assert paper_days_around(start=dt.date.min, end=dt.date.max) == (None, None)


def test_it_has_no_latest_day_without_papers() -> None:
    assert paper_latest_day(now=NOW) is None


# --- Search ------------------------------------------------------------------------------


@pytest.fixture
def real_day() -> None:
    papers_from_hf_fixture(fixture_bytes(DERIVED_DAY))


@pytest.mark.usefixtures("real_day")
def test_it_finds_papers_by_title_author_and_abstract_words() -> None:
    assert ids(paper_search(query="Kandinsky"))[0] == "2511.14993"
    assert "2511.14993" in ids(paper_search(query="Arkhipkin"))  # an author
    assert "2511.14993" in ids(paper_search(query="clustering"))  # only in the abstract


def authored_by(raw: bytes, name: str) -> set[str]:
    """Ids of the fixture's papers with an author named `name`, where only the authors say so."""
    found = set()
    for item in json.loads(raw):
        paper = item["paper"]
        if any(name in author["name"] for author in paper["authors"]):
            assert name.casefold() not in (paper["title"] + paper["summary"]).casefold()
            found.add(paper["id"])
    return found


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("Bökman", "Bökman"),
        ("Wadenbäck", "Wadenbäck"),
        ("jürgen", "Jürgen"),
        ("Pérez", "Pérez"),
        ("PRÉVOST", "Prévost"),
        ("Estapé", "Estapé"),
        (unicodedata.normalize("NFD", "Bökman"), "Bökman"),  # "o" + combining diaeresis
    ],
)
@pytest.mark.usefixtures("real_day")
def test_it_finds_authors_with_accented_names(query: str, name: str) -> None:
    expected = authored_by(fixture_bytes(DERIVED_DAY), name)

    assert expected  # the fixture has such an author
    assert set(ids(paper_search(query=query))) == expected


@pytest.mark.parametrize(
    ("query", "name"), [("żołna", "Żołna"), ("Défossez", "Défossez"), ("LUKOŠIŪTĖ", "Lukošiūtė")]
)
def test_it_finds_accented_names_in_any_case(query: str, name: str) -> None:
    raw = fixture_bytes(AUGUST_2023)
    papers_from_hf_fixture(raw)
    expected = authored_by(raw, name)

    assert expected
    assert set(ids(paper_search(query=query))) == expected


@pytest.mark.usefixtures("real_day")
def test_it_never_finds_hidden_papers() -> None:
    PaperFactory.create(title="Kandinsky secrets", hidden=True)

    assert "Kandinsky secrets" not in [paper.title for paper in paper_search(query="Kandinsky")]


@pytest.mark.parametrize(
    "query", ["", "   \n\t ", "x" * 5000, "'\"&|!():*<>\\", "-", "OR", '"unclosed']
)
@pytest.mark.usefixtures("real_day")
def test_it_takes_odd_queries_without_errors(query: str) -> None:
    list(paper_search(query=query))


def test_it_returns_nothing_for_an_empty_query() -> None:
    PaperFactory.create()
    assert list(paper_search(query="  ")) == []


@pytest.mark.usefixtures("real_day")
def test_it_limits_the_results() -> None:
    assert len(paper_search(query="model", limit=3)) == 3


@pytest.mark.postgres
def test_it_ranks_title_matches_above_abstract_matches_on_postgres() -> None:
    in_abstract = PaperFactory.create(
        title="A survey", abstract="We discuss tokenizers at length.", upvotes=900
    )
    in_title = PaperFactory.create(
        title="Tokenizers considered harmful", abstract="Nothing else.", upvotes=1
    )

    assert ids(paper_search(query="tokenizer")) == [in_title.arxiv_id, in_abstract.arxiv_id]


@pytest.mark.postgres
@pytest.mark.usefixtures("real_day")
def test_it_understands_web_search_syntax_on_postgres() -> None:
    phrase = ids(paper_search(query='"video generation"'))
    excluded = ids(paper_search(query='"video generation" -Kandinsky'))

    assert "2511.14993" in phrase
    assert "2511.14993" not in excluded


@pytest.mark.postgres
def test_the_search_uses_the_gin_index_on_postgres() -> None:
    queryset = paper_search(query="diffusion transformers")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "paper_search_vector_gin" in plan
