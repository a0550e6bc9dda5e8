"""An arXiv RSS item of an old paper (a cross-list, a new version) never makes it look new.

On the real feed of 24 Sep 2026 (tests/fixtures/arxiv_rss, 2026-09-24_…): two `new` items,
a `cross` of 2205.06398v2 (posted in May 2022) and a `replace` of 2009.13987v3 (2020).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any

import pytest

from digest.models import IssueKind
from digest.services import issue_candidates_select, issue_window
from papers.ingest import papers_ingest
from papers.models import Paper, Source
from papers.sources import arxiv_rss, hf_api
from papers.sources.records import PaperRecord
from tests.helpers import fixture_bytes

RSS_2026 = "arxiv_rss/2026-09-24_rss_cs.LG+cs.AI+cs.CL+stat.ML_TRIMMED-4-items.xml"
# <pubDate>Thu, 24 Sep 2026 00:00:00 -0400</pubDate>
FEED_DAY = dt.datetime(2026, 9, 24, 4, 0, tzinfo=dt.UTC)
NEW_IDS = ["2609.26811", "2609.26820"]
OLD_CROSS, OLD_REPLACE = "2205.06398", "2009.13987"
# The captures hold no API record of 2205.06398: this is the date the arXiv API would give
# its first version (the id says May 2022), built by hand.
API_PUBLISHED = dt.datetime(2022, 5, 12, 17, 30, tzinfo=dt.UTC)


def rss_records() -> dict[str, PaperRecord]:
    return {record.arxiv_id: record for record in arxiv_rss.parse(fixture_bytes(RSS_2026)).records}


def api_record_of(record: PaperRecord) -> PaperRecord:
    """The paper as the arXiv API gives it: the same text, dated by its first version."""
    return replace(record, source=Source.ARXIV, published_at=API_PUBLISHED, announce_type="")


def test_it_reads_each_items_announce_type_from_the_2026_feed() -> None:
    raw = fixture_bytes(RSS_2026).decode()
    expected = re.findall(r"<arxiv:announce_type>(.*?)</arxiv:announce_type>", raw)

    records = arxiv_rss.parse(fixture_bytes(RSS_2026)).records

    assert expected == ["new", "new", "cross", "replace"]
    assert [record.announce_type for record in records] == expected
    assert [record.arxiv_id for record in records] == [*NEW_IDS, OLD_CROSS, OLD_REPLACE]


def test_only_the_new_papers_are_dated_to_the_feed_day() -> None:
    records = rss_records()

    assert [records[arxiv_id].published_at for arxiv_id in NEW_IDS] == [FEED_DAY, FEED_DAY]
    assert records[OLD_CROSS].published_at is None  # cross-listed in 2026, posted in 2022
    assert records[OLD_REPLACE].published_at is None  # a new version of a 2020 paper


def test_a_cross_list_of_an_old_style_id_is_not_dated_either() -> None:
    raw = fixture_bytes(RSS_2026).replace(b"2205.06398", b"hep-th/9901001")

    by_id = {record.arxiv_id: record for record in arxiv_rss.parse(raw).records}

    assert by_id["hep-th/9901001"].announce_type == "cross"
    assert by_id["hep-th/9901001"].published_at is None


def test_a_cross_list_of_a_paper_from_last_month_keeps_the_feed_day() -> None:
    # Submitted on the last days of August, first announced (new, and cross-listed) in September.
    raw = fixture_bytes(RSS_2026).replace(b"2205.06398", b"2608.23001")

    by_id = {record.arxiv_id: record for record in arxiv_rss.parse(raw).records}

    assert by_id["2608.23001"].published_at == FEED_DAY


@pytest.mark.django_db
@pytest.mark.parametrize("item", [OLD_CROSS, OLD_REPLACE])
def test_the_feed_never_replaces_the_first_version_date_the_api_stored(item: str) -> None:
    rss = rss_records()[item]
    papers_ingest(records=[api_record_of(rss)], fetch_run=None, now=FEED_DAY)

    papers_ingest(records=[rss], fetch_run=None, now=FEED_DAY + dt.timedelta(hours=1))

    paper = Paper.objects.get(arxiv_id=item)
    assert paper.published_at == API_PUBLISHED
    assert paper.sources == [Source.ARXIV, Source.ARXIV_RSS]


@pytest.mark.django_db
def test_even_a_feed_dated_record_never_moves_a_stored_date_later() -> None:
    # Were the parser to date the cross again, the ingest would still keep the 2022 date.
    rss = replace(rss_records()[OLD_CROSS], published_at=FEED_DAY)
    papers_ingest(records=[api_record_of(rss)], fetch_run=None, now=FEED_DAY)

    papers_ingest(records=[rss], fetch_run=None, now=FEED_DAY + dt.timedelta(hours=1))

    assert Paper.objects.get(arxiv_id=OLD_CROSS).published_at == API_PUBLISHED


@pytest.mark.django_db
def test_the_api_date_fills_in_and_moves_earlier_whatever_came_first() -> None:
    records = rss_records()
    papers_ingest(records=records.values(), fetch_run=None, now=FEED_DAY)
    assert Paper.objects.get(arxiv_id=OLD_CROSS).published_at is None  # unknown, not 2026

    api_new = api_record_of(records[NEW_IDS[0]])  # the API's v1 time is before the announcement
    papers_ingest(
        records=[
            api_record_of(records[OLD_CROSS]),
            replace(api_new, published_at=FEED_DAY - dt.timedelta(hours=10)),
        ],
        fetch_run=None,
        now=FEED_DAY + dt.timedelta(hours=1),
    )

    assert Paper.objects.get(arxiv_id=OLD_CROSS).published_at == API_PUBLISHED
    assert Paper.objects.get(arxiv_id=NEW_IDS[0]).published_at == FEED_DAY - dt.timedelta(hours=10)


@pytest.mark.django_db
def test_a_later_hf_date_of_publication_does_not_replace_the_stored_one() -> None:
    hf = hf_api.parse(
        fixture_bytes(
            "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"
        )
    ).records[0]
    assert hf.published_at is not None
    earlier = hf.published_at - dt.timedelta(days=3)
    papers_ingest(
        records=[replace(hf, source=Source.ARXIV, published_at=earlier)],
        fetch_run=None,
        now=FEED_DAY,
    )

    papers_ingest(records=[hf], fetch_run=None, now=FEED_DAY + dt.timedelta(hours=1))

    assert Paper.objects.get(arxiv_id=hf.arxiv_id).published_at == earlier


@pytest.mark.django_db
def test_old_papers_of_the_feed_are_not_candidates_for_the_next_issue(
    settings: Any,
) -> None:
    settings.PAPERBOY_ISSUE_BUILD_HOUR = 0
    settings.PAPERBOY_ISSUE_WINDOW_HOURS = 24
    papers_ingest(records=rss_records().values(), fetch_run=None, now=FEED_DAY)
    start, end = issue_window(date=FEED_DAY.date() + dt.timedelta(days=1), kind=IssueKind.DAILY)

    candidates, new_count = issue_candidates_select(start=start, end=end)

    assert sorted(candidates) == NEW_IDS
    assert new_count == len(NEW_IDS)
    assert Paper.objects.count() == 4  # the old papers are stored, just not dated to the feed
