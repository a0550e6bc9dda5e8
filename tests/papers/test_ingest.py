"""The bulk upsert: one row per arXiv id whatever the source, idempotent, bounded queries."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import replace

import pytest
from django.db import connections, transaction
from django.utils import timezone

from papers.ingest import papers_ingest, papers_search_index
from papers.models import FetchRun, Paper, PaperMetric, Source
from papers.selectors import paper_search
from papers.sources import hf_api
from papers.sources.records import PaperRecord
from tests.helpers import fixture_bytes

pytestmark = pytest.mark.django_db

HF_NOVEMBER = "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"
HF_NOV_20 = "hf_daily_papers/DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json"
T0 = dt.datetime(2025, 11, 21, 8, 0, tzinfo=dt.UTC)


def hf_records(name: str = HF_NOVEMBER) -> list[PaperRecord]:
    return hf_api.parse(fixture_bytes(name)).records


def hf_record(arxiv_id: str) -> PaperRecord:
    return next(record for record in hf_records() if record.arxiv_id == arxiv_id)


def known_upvotes(record: PaperRecord) -> int:
    """The record's upvotes, which every HF record carries."""
    assert record.upvotes is not None, record
    return record.upvotes


def arxiv_version_of(record: PaperRecord) -> PaperRecord:
    """The same paper as the arXiv API would give it: text and categories, no HF counters."""
    return PaperRecord(
        arxiv_id=record.arxiv_id,
        title=record.title,
        source=Source.ARXIV,
        abstract=record.abstract,
        authors=record.authors,
        published_at=record.published_at,
        categories=("cs.CV", "cs.AI"),
    )


def table_snapshot() -> dict[str, Mapping[str, object]]:
    return {row["arxiv_id"]: row for row in Paper.objects.values()}


def test_it_stores_every_parsed_paper_with_its_fields() -> None:
    records = hf_records()

    counts = papers_ingest(records=records, fetch_run=None, now=T0)

    assert (counts.created, counts.updated, counts.unchanged, counts.skipped) == (
        len(records),
        0,
        0,
        0,
    )
    assert Paper.objects.count() == len(records) == 100
    # 2511.11793 is one of the items without ai_summary/ai_keywords.
    record = hf_record("2511.11793")
    paper = Paper.objects.get(arxiv_id="2511.11793")
    assert paper.title == record.title
    assert paper.authors == list(record.authors)
    assert paper.upvotes == record.upvotes
    assert paper.hf_date == record.hf_date
    assert paper.ai_summary == ""
    assert paper.sources == ["hf"]
    assert paper.first_seen_at == paper.last_seen_at == T0


def test_it_merges_the_same_paper_from_hf_and_arxiv_into_one_row() -> None:
    hf = hf_record("2511.04570")
    papers_ingest(records=hf_records(), fetch_run=None, now=T0)
    revised_title = f"{hf.title} (revised)"

    counts = papers_ingest(
        records=[replace(arxiv_version_of(hf), title=revised_title, abstract="")],
        fetch_run=None,
        now=T0 + dt.timedelta(hours=1),
    )

    assert (counts.created, counts.updated) == (0, 1)
    paper = Paper.objects.get(arxiv_id="2511.04570")
    assert Paper.objects.filter(arxiv_id="2511.04570").count() == 1
    assert paper.sources == ["arxiv", "hf"]
    assert paper.title == revised_title  # arXiv is the authority on the text
    assert paper.abstract == hf.abstract != ""  # arXiv did not know it here: nothing erased
    assert paper.categories == ["cs.CV", "cs.AI"]
    assert paper.upvotes == hf.upvotes
    assert paper.ai_summary == hf.ai_summary != ""
    assert paper.github_repo == hf.github_repo
    assert paper.hf_date == hf.hf_date


def test_it_keeps_arxivs_text_when_hf_sees_the_paper_afterwards() -> None:
    hf = hf_record("2511.04570")
    arxiv = replace(
        arxiv_version_of(hf),
        title="The title as arXiv has it",
        authors=("A. Author", "B. Author"),
    )
    papers_ingest(records=[arxiv], fetch_run=None, now=T0)

    papers_ingest(
        records=[replace(hf, categories=("cs.LG",))], fetch_run=None, now=T0 + dt.timedelta(hours=1)
    )

    paper = Paper.objects.get(arxiv_id=hf.arxiv_id)
    assert paper.title == "The title as arXiv has it"
    assert paper.authors == ["A. Author", "B. Author"]
    assert paper.categories == ["cs.CV", "cs.AI"]  # arXiv wins the categories too
    assert paper.upvotes == hf.upvotes
    assert paper.num_comments == hf.num_comments
    assert paper.sources == ["arxiv", "hf"]


def test_an_hf_only_paper_takes_hfs_newest_title() -> None:
    hf = hf_record("2511.04570")
    papers_ingest(records=[hf], fetch_run=None, now=T0)

    papers_ingest(
        records=[replace(hf, title=f"{hf.title}!")], fetch_run=None, now=T0 + dt.timedelta(hours=1)
    )

    assert Paper.objects.get(arxiv_id=hf.arxiv_id).title == f"{hf.title}!"


def test_a_source_that_does_not_know_a_field_never_erases_it() -> None:
    hf = hf_record("2511.04570")
    assert hf.ai_summary
    assert hf.github_repo
    assert hf.ai_keywords
    papers_ingest(records=[hf], fetch_run=None, now=T0)

    bare = replace(
        hf,
        ai_summary="",
        github_repo="",
        ai_keywords=(),
        upvotes=None,
        github_stars=None,
        hf_date=None,
    )
    counts = papers_ingest(records=[bare], fetch_run=None, now=T0 + dt.timedelta(hours=1))

    assert counts.unchanged == 1
    paper = Paper.objects.get(arxiv_id=hf.arxiv_id)
    assert paper.ai_summary == hf.ai_summary
    assert paper.github_repo == hf.github_repo
    assert paper.ai_keywords == list(hf.ai_keywords)
    assert paper.upvotes == hf.upvotes
    assert paper.hf_date == hf.hf_date


def test_ingesting_the_same_data_again_changes_nothing_but_last_seen() -> None:
    run = FetchRun.objects.create(source=Source.HF)
    # The derived 2025-11-20 list re-serves some of the month's items verbatim:
    # duplicates in one batch.
    records = hf_records() + hf_records(HF_NOV_20)
    unique = {record.arxiv_id for record in records}
    assert len(unique) < len(records)
    first = papers_ingest(records=records, fetch_run=run, now=T0)
    before = table_snapshot()
    later = T0 + dt.timedelta(hours=1)

    again = papers_ingest(records=records, fetch_run=run, now=later)

    assert (first.created, first.updated, first.unchanged) == (len(unique), 0, 0)
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(unique))
    after = table_snapshot()
    assert after.keys() == before.keys()
    for arxiv_id, row in after.items():
        assert row["last_seen_at"] == later
        assert {k: v for k, v in row.items() if k != "last_seen_at"} == {
            k: v for k, v in before[arxiv_id].items() if k != "last_seen_at"
        }


def test_changed_upvotes_count_as_updated_and_add_a_metric_snapshot() -> None:
    first = FetchRun.objects.create(source=Source.HF)
    second = FetchRun.objects.create(source=Source.HF)
    hf = hf_record("2511.04570")
    papers_ingest(records=[hf], fetch_run=first, now=T0)
    updated_at = Paper.objects.get(arxiv_id=hf.arxiv_id).updated_at

    counts = papers_ingest(
        records=[replace(hf, upvotes=known_upvotes(hf) + 7)],
        fetch_run=second,
        now=T0 + dt.timedelta(hours=1),
    )

    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 0)
    paper = Paper.objects.get(arxiv_id=hf.arxiv_id)
    assert paper.upvotes == known_upvotes(hf) + 7
    assert paper.updated_at > updated_at
    history = list(
        PaperMetric.objects.filter(paper=paper)
        .order_by("captured_at")
        .values_list("fetch_run", "upvotes")
    )
    assert history == [(first.pk, hf.upvotes), (second.pk, known_upvotes(hf) + 7)]


def test_it_snapshots_metrics_once_per_paper_per_fetch_and_only_when_the_source_has_them() -> None:
    run = FetchRun.objects.create(source=Source.HF)
    hf = hf_record("2511.04570")
    papers_ingest(records=[hf, arxiv_version_of(hf_record("2511.11793"))], fetch_run=run, now=T0)

    assert list(
        PaperMetric.objects.values_list(
            "paper__arxiv_id", "upvotes", "num_comments", "github_stars"
        )
    ) == [(hf.arxiv_id, hf.upvotes, hf.num_comments, hf.github_stars)]


def test_the_same_paper_twice_in_one_batch_is_one_row_merged_last_wins() -> None:
    hf = hf_record("2511.04570")
    arxiv = replace(arxiv_version_of(hf), title="arXiv title")

    counts = papers_ingest(
        records=[hf, arxiv, replace(hf, upvotes=known_upvotes(hf) + 1)], fetch_run=None, now=T0
    )

    assert (counts.created, counts.updated, counts.unchanged) == (1, 0, 0)
    paper = Paper.objects.get(arxiv_id=hf.arxiv_id)
    assert paper.upvotes == known_upvotes(hf) + 1
    assert paper.title == "arXiv title"
    assert paper.categories == ["cs.CV", "cs.AI"]
    assert paper.sources == ["arxiv", "hf"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"arxiv_id": "2511.0457" + "0" * 40}, "arXiv id is not a string of at most 40"),
        ({"arxiv_id": "not-an-id"}, "not a bare arXiv id"),
        ({"upvotes": -3}, "upvotes is not a count"),
        ({"github_stars": 10**12}, "github_stars is not a count"),
        ({"published_at": dt.datetime(9999, 1, 1, tzinfo=dt.UTC)}, "published_at is out of range"),
        ({"title": "x" * 5000}, "title longer than"),
        ({"abstract": "nul \x00 byte"}, "NUL character"),
        ({"project_page": "javascript:alert(1)"}, "project_page is not an http(s) URL"),
        ({"source": "elsewhere"}, "unknown source"),
    ],
)
def test_an_invalid_record_is_skipped_counted_and_logged_without_breaking_the_batch(
    change: dict, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    records = hf_records()
    bad = replace(records[0], **change)

    with caplog.at_level(logging.WARNING, logger="papers.ingest"):
        counts = papers_ingest(records=[bad, *records[1:]], fetch_run=None, now=T0)

    assert (counts.created, counts.skipped) == (99, 1)
    assert not Paper.objects.filter(arxiv_id=records[0].arxiv_id).exists()
    reasons = [
        vars(r)["reason"] for r in caplog.records if r.getMessage().startswith("record skipped")
    ]
    assert len(reasons) == 1
    assert reason in reasons[0]


def many_records(count: int, *, start: int = 0) -> list[PaperRecord]:
    """`count` distinct papers shaped like the real HF items (new ids, same fields and sizes)."""
    base = hf_records()
    return [replace(base[n % len(base)], arxiv_id=f"2512.{start + n:05d}") for n in range(count)]


def ingest_three_passes(max_queries, limit: int) -> None:
    """Create 1,000 papers, see them unchanged, change half, add a few; each in `limit` queries."""
    records = many_records(1000)
    run = FetchRun.objects.create(source=Source.HF)

    with max_queries(limit):
        created = papers_ingest(records=records, fetch_run=run, now=T0)
    with max_queries(limit):
        unchanged = papers_ingest(records=records, fetch_run=run, now=T0 + dt.timedelta(hours=1))
    half_changed = [
        replace(r, upvotes=known_upvotes(r) + 1) if n % 2 else r for n, r in enumerate(records)
    ]
    with max_queries(limit):
        mixed = papers_ingest(
            records=[*half_changed, *many_records(10, start=5000)], fetch_run=run, now=T0
        )

    assert created.created == unchanged.unchanged == 1000
    assert (mixed.created, mixed.updated, mixed.unchanged) == (10, 500, 500)
    assert PaperMetric.objects.count() == 3010
    assert Paper.objects.get(arxiv_id="2512.00001").upvotes == known_upvotes(records[1]) + 1


@pytest.mark.postgres
def test_a_thousand_papers_take_at_most_ten_queries_per_pass(django_assert_max_num_queries) -> None:
    ingest_three_passes(django_assert_max_num_queries, 10)


def test_it_never_spends_a_query_per_paper(django_assert_max_num_queries) -> None:
    # Django caps SQLite statements at 999 parameters (about 40 papers per INSERT), so the
    # ten-query target is PostgreSQL's; everywhere the count stays far below one per paper.
    ingest_three_passes(django_assert_max_num_queries, 100)


def test_it_processes_large_batches_in_chunks() -> None:
    counts = papers_ingest(records=many_records(2500), fetch_run=None, now=T0)

    assert counts.created == Paper.objects.count() == 2500


def test_nothing_to_ingest_touches_nothing(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        counts = papers_ingest(records=[], fetch_run=None, now=timezone.now())
    assert counts.created == counts.skipped == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_hf_and_arxiv_fetches_of_a_new_paper_merge_into_one_row() -> None:
    hf = hf_record("2511.04570")
    arxiv = arxiv_version_of(hf)
    first_wrote = threading.Event()
    errors: list[BaseException] = []

    def ingest(record: PaperRecord, *, hold: bool) -> None:
        try:
            with transaction.atomic():
                papers_ingest(records=[record], fetch_run=None, now=T0)
                if hold:
                    # Keep the new row uncommitted while the other fetch tries to write
                    # the same paper.
                    first_wrote.set()
                    time.sleep(0.5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    first = threading.Thread(target=ingest, args=(hf,), kwargs={"hold": True})
    first.start()
    first_wrote.wait(5)
    second = threading.Thread(target=ingest, args=(arxiv,), kwargs={"hold": False})
    second.start()
    first.join()
    second.join()

    assert errors == []
    paper = Paper.objects.get(arxiv_id=hf.arxiv_id)
    assert paper.sources == ["arxiv", "hf"]
    assert paper.upvotes == hf.upvotes
    assert paper.categories == ["cs.CV", "cs.AI"]


# --- Search vectors --------------------------------------------------------------------------


@pytest.mark.postgres
def test_new_papers_become_searchable_once_indexed_and_rewording_reindexes_them() -> None:
    hf = hf_record("2511.04570")
    papers_ingest(records=[hf], fetch_run=None, now=T0)
    assert Paper.objects.get(arxiv_id=hf.arxiv_id).search_vector is None

    assert papers_search_index() == 1
    assert [p.arxiv_id for p in paper_search(query=hf.title)] == [hf.arxiv_id]
    assert papers_search_index() == 0  # nothing left to do

    papers_ingest(
        records=[replace(arxiv_version_of(hf), title="Zygomorphic flowers")], fetch_run=None, now=T0
    )
    assert papers_search_index() == 1
    assert [p.arxiv_id for p in paper_search(query="zygomorphic")] == [hf.arxiv_id]


@pytest.mark.postgres
def test_a_counter_change_keeps_the_search_vector() -> None:
    hf = hf_record("2511.04570")
    papers_ingest(records=[hf], fetch_run=None, now=T0)
    papers_search_index()

    papers_ingest(records=[replace(hf, upvotes=known_upvotes(hf) + 5)], fetch_run=None, now=T0)

    assert Paper.objects.get(arxiv_id=hf.arxiv_id).search_vector is not None
