"""Fetch runs: all of a fetch is stored or none of it, and every failure is logged in a FetchRun."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping

import pytest
import requests
import responses
from django.core.cache import cache
from responses import matchers
from urllib3.util.retry import Retry

from papers import ingest
from papers.models import FetchRun, Paper, PaperMetric, Source
from papers.selectors import paper_search
from papers.services import (
    ARXIV_DAY_MAX_RESULTS,
    papers_fetch_arxiv,
    papers_fetch_arxiv_day,
    papers_fetch_hf,
    papers_fetch_hf_day,
    papers_fetch_hf_html,
    papers_load_file,
)
from papers.sources import arxiv_api, arxiv_rss, hf_api, hf_html
from papers.sources.http import TransientFetchError
from tests.helpers import FIXTURES, fixture_bytes, sent_params

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 11, 20)
HF_DAY = "hf_daily_papers/DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json"
HF_MONTH = "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"
HF_HTML = "hf_papers_html/papers_index_2024-08-01_raw.html"
ARXIV_TWO_IDS = "arxiv_atom/2026-04-12_api_query_idlist-two-ids-one-nonexistent.xml"
ARXIV_ERROR_400 = "arxiv_atom/2026-04-12_api_query_idlist-abc_error-http400.xml"
ARXIV_MAX15 = "arxiv_atom/2026-04-12_api_query_search-testing_start0_max15.xml"
ARXIV_SHORT = "arxiv_atom/2016-10-09_api_query_search-au-del_maestro_max10_OLD-FORMAT.xml"
RSS_ATOM = "arxiv_rss/2025-08-20_atom-feed_cs.AI_TRUNCATED-86-entries_closed.xml"
RSS_ERROR = "arxiv_rss/2024-11-28_rss_astroph_ERROR-bad-archive.xml"
ENTITY_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol4;</title></feed>"""


@pytest.fixture(autouse=True)
def _no_backoff_and_fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # Retries still happen (and are counted), only the waiting between them is skipped.
    monkeypatch.setattr(Retry, "get_backoff_time", lambda self: 0)
    cache.clear()


def hf_day_count() -> int:
    return len(json.loads(fixture_bytes(HF_DAY)))


def stored_state() -> tuple[list[Mapping[str, object]], list[Mapping[str, object]]]:
    """Every column of every paper and metric row, to compare before/after a failed fetch."""
    return list(Paper.objects.order_by("pk").values()), list(
        PaperMetric.objects.order_by("pk").values()
    )


def good_hf_fetch() -> FetchRun:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=fixture_bytes(HF_DAY))
        return papers_fetch_hf(date=DAY)


def test_a_good_fetch_stores_every_paper_and_logs_a_succeeded_run() -> None:
    run = good_hf_fetch()

    run.refresh_from_db()
    assert run.status == FetchRun.Status.SUCCEEDED
    assert run.source == Source.HF
    assert run.params == {"date": "2025-11-20"}
    assert (run.created, run.updated, run.unchanged, run.skipped) == (hf_day_count(), 0, 0, 0)
    assert run.finished_at is not None
    assert run.error == ""
    assert Paper.objects.count() == hf_day_count() == 12
    assert PaperMetric.objects.filter(fetch_run=run).count() == 12
    # Every paper of that list was on Daily Papers that day.
    assert set(Paper.objects.values_list("hf_date", flat=True)) == {DAY}


@responses.activate
def test_it_asks_hf_for_the_day_and_follows_pages() -> None:
    items = json.loads(fixture_bytes(HF_MONTH))
    responses.get(hf_api.API_URL, json=items[:100])
    # A full page of 100 means there may be more: the second page is asked for too.
    responses.get(hf_api.API_URL, json=[])

    run = papers_fetch_hf(date=DAY)

    assert [sent_params(call) for call in responses.calls] == [
        {"date": "2025-11-20", "limit": "100", "p": "0"},
        {"date": "2025-11-20", "limit": "100", "p": "1"},
    ]
    assert run.created == 100


def test_fetching_the_same_day_again_changes_nothing_but_last_seen() -> None:
    good_hf_fetch()
    before = list(Paper.objects.order_by("pk").values())

    run = good_hf_fetch()

    assert (run.created, run.updated, run.unchanged) == (0, 0, 12)
    after = list(Paper.objects.order_by("pk").values())
    strip = [{k: v for k, v in row.items() if k != "last_seen_at"} for row in before]
    assert [{k: v for k, v in row.items() if k != "last_seen_at"} for row in after] == strip
    assert all(a["last_seen_at"] > b["last_seen_at"] for a, b in zip(after, before, strict=True))


def truncated(name: str) -> bytes:
    raw = fixture_bytes(name)
    return raw[: len(raw) // 2]


BAD_HF_BODIES = {
    "truncated JSON": (truncated(HF_DAY), "invalid JSON"),
    "empty body": (b"", "empty response body"),
    "wrong type": (b'{"papers": []}', "expected a JSON list of papers"),
    "API error": (b'{"error": "Invalid date"}', "API error: Invalid date"),
}


@pytest.mark.parametrize("case", BAD_HF_BODIES)
def test_a_bad_hf_body_fails_the_run_and_changes_nothing(case: str) -> None:
    good_hf_fetch()
    before = stored_state()
    body, message = BAD_HF_BODIES[case]

    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=body)
        run = papers_fetch_hf(date=DAY)

    run.refresh_from_db()
    assert run.status == FetchRun.Status.FAILED
    assert message in run.error
    assert "\n" not in run.error
    assert stored_state() == before


@pytest.mark.parametrize(
    ("status", "headers"),
    [(500, {}), (503, {}), (429, {"Retry-After": "0"})],
)
def test_a_server_error_or_rate_limit_fails_the_run_as_transient(
    status: int, headers: dict
) -> None:
    good_hf_fetch()
    before = stored_state()

    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, status=status, headers=headers, body=b"busy")
        with pytest.raises(TransientFetchError):
            papers_fetch_hf(date=DAY)
        # The client retried before giving up (settings_test: 2 retries).
        assert len(mock.calls) == 3

    run = FetchRun.objects.latest("pk")
    assert run.status == FetchRun.Status.FAILED
    assert f"HTTP {status}" in run.error
    assert stored_state() == before


def test_a_timeout_fails_the_run_as_transient() -> None:
    good_hf_fetch()
    before = stored_state()

    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=requests.exceptions.ConnectTimeout("connect timed out"))
        with pytest.raises(TransientFetchError):
            papers_fetch_hf(date=DAY)

    run = FetchRun.objects.latest("pk")
    assert run.status == FetchRun.Status.FAILED
    assert "ConnectTimeout" in run.error
    assert stored_state() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (truncated(RSS_ATOM), "malformed XML"),
        (ENTITY_BOMB, "forbidden XML entity"),
        (fixture_bytes(RSS_ERROR), "arXiv RSS error"),
        (b"   ", "empty response body"),
    ],
    ids=["truncated XML", "entity bomb", "error feed", "empty body"],
)
def test_a_bad_arxiv_feed_fails_the_run_and_changes_nothing(body: bytes, message: str) -> None:
    good_hf_fetch()
    before = stored_state()

    with responses.RequestsMock() as mock:
        mock.get("https://rss.arxiv.org/rss/cs.AI", body=body)
        run = papers_fetch_arxiv(categories=["cs.AI"])

    assert run.status == FetchRun.Status.FAILED
    assert run.source == Source.ARXIV_RSS
    assert message in run.error
    assert stored_state() == before


def test_an_arxiv_api_error_feed_fails_the_run() -> None:
    good_hf_fetch()
    before = stored_state()

    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, status=400, body=fixture_bytes(ARXIV_ERROR_400))
        run = papers_fetch_arxiv(categories=[], ids=["abc"])
        mock.replace(
            responses.GET, arxiv_api.API_URL, status=200, body=fixture_bytes(ARXIV_ERROR_400)
        )
        with_200 = papers_fetch_arxiv(categories=[], ids=["abc"])

    assert run.status == with_200.status == FetchRun.Status.FAILED
    assert "HTTP 400: arXiv API error: incorrect id format for abc" in run.error
    assert "arXiv API error: incorrect id format for abc" in with_200.error
    assert stored_state() == before


def test_a_failure_in_the_middle_of_the_ingest_rolls_back_every_paper(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good_hf_fetch()
    before = stored_state()

    def broken_snapshot(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    # Papers are written before their metrics: this fails after the paper rows went in.
    monkeypatch.setattr(ingest, "_snapshot_metrics", broken_snapshot)
    items = json.loads(fixture_bytes(HF_MONTH))
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, json=items[:50])
        with pytest.raises(RuntimeError):
            papers_fetch_hf(date=DAY)

    run = FetchRun.objects.latest("pk")
    assert run.status == FetchRun.Status.FAILED
    assert run.error == "RuntimeError: disk full"
    assert stored_state() == before


def test_every_page_is_parsed_before_anything_is_written() -> None:
    items = json.loads(fixture_bytes(HF_MONTH))
    with responses.RequestsMock() as mock:
        mock.get("https://rss.arxiv.org/rss/cs.AI", body=fixture_bytes(RSS_ATOM))
        papers_fetch_arxiv(categories=["cs.AI"])
    before = stored_state()

    # Page 0 is good; page 1 is cut short: the papers of page 0 must not be stored either.
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, json=items[:100])
        mock.get(hf_api.API_URL, body=truncated(HF_DAY))
        run = papers_fetch_hf(date=DAY)

    assert run.status == FetchRun.Status.FAILED
    assert "invalid JSON" in run.error
    assert stored_state() == before


def test_a_good_fetch_after_a_failure_recovers() -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=truncated(HF_DAY))
        failed = papers_fetch_hf(date=DAY)

    recovered = good_hf_fetch()

    assert failed.status == FetchRun.Status.FAILED
    assert recovered.status == FetchRun.Status.SUCCEEDED
    assert recovered.created == Paper.objects.count() == hf_day_count()


def test_an_invalid_item_in_a_good_response_is_skipped_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = json.loads(fixture_bytes(HF_DAY))
    bad_id = items[3]["paper"]["id"]
    items[3]["paper"]["upvotes"] = "lots"

    with caplog.at_level(logging.WARNING), responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, json=items)
        run = papers_fetch_hf(date=DAY)

    assert run.status == FetchRun.Status.SUCCEEDED
    assert (run.created, run.skipped) == (len(items) - 1, 1)
    assert not Paper.objects.filter(arxiv_id=bad_id).exists()
    skipped = [r for r in caplog.records if r.getMessage().startswith("record skipped")]
    assert len(skipped) == 1
    assert "upvotes" in vars(skipped[0])["reason"]
    assert vars(skipped[0])["fetch_run"] == run.pk


def test_hf_html_fetches_the_days_page() -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{hf_html.PAPERS_URL}/date/2024-08-01", body=fixture_bytes(HF_HTML))
        run = papers_fetch_hf_html(date=dt.date(2024, 8, 1))

    assert run.status == FetchRun.Status.SUCCEEDED
    assert run.source == Source.HF_HTML
    assert run.created == fixture_bytes(HF_HTML).count(b"<article") == 13
    assert list(Paper.objects.values_list("sources", flat=True).distinct()) == [["hf-html"]]


def test_arxiv_without_dates_reads_todays_feed_for_the_categories() -> None:
    with responses.RequestsMock() as mock:
        mock.get("https://rss.arxiv.org/rss/cs.AI+cs.LG", body=fixture_bytes(RSS_ATOM))
        run = papers_fetch_arxiv(categories=["cs.AI", "cs.LG"])

    assert run.status == FetchRun.Status.SUCCEEDED
    assert run.source == Source.ARXIV_RSS
    assert run.params == {"categories": ["cs.AI", "cs.LG"]}
    assert run.created == fixture_bytes(RSS_ATOM).count(b"<entry>") == 86
    # The first entry: <id>oai:arXiv.org:2508.13167v1</id>, categories cs.AI then cs.CL.
    paper = Paper.objects.get(arxiv_id="2508.13167")
    assert paper.categories[:2] == ["cs.AI", "cs.CL"]
    assert paper.sources == ["arxiv-rss"]


def test_an_arxiv_day_is_one_run_with_one_query_per_category() -> None:
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, body=fixture_bytes(ARXIV_TWO_IDS))
        run = papers_fetch_arxiv_day(categories=["cs.CV", "cs.CL"], date=DAY)
        queries = [sent_params(call)["search_query"] for call in mock.calls]

    assert queries == [
        "cat:cs.CV AND submittedDate:[202511200000 TO 202511202359]",
        "cat:cs.CL AND submittedDate:[202511200000 TO 202511202359]",
    ]
    assert run.source == Source.ARXIV
    assert run.params == {"categories": ["cs.CV", "cs.CL"], "date": "2025-11-20"}
    # The same one paper twice (both categories' pages): one row, counted once.
    assert (run.created, run.updated, run.unchanged) == (1, 0, 0)
    assert Paper.objects.count() == 1
    # totalResults 1, one entry: all of it was fetched, nothing to note.
    assert run.status == FetchRun.Status.SUCCEEDED
    assert run.error == ""


def total_results_of(raw: bytes) -> int:
    """opensearch:totalResults read straight from the capture, not through the parser."""
    match = re.search(rb"<opensearch:totalResults[^>]*>\s*(\d+)\s*<", raw)
    assert match is not None
    return int(match[1])


def test_an_arxiv_day_past_the_cap_keeps_what_it_got_and_says_it_was_truncated() -> None:
    feed = fixture_bytes(ARXIV_MAX15)
    with responses.RequestsMock() as mock:
        # Every page answers with the same 15 entries of a 214,881-entry query:
        # only the cap stops it.
        mock.get(arxiv_api.API_URL, body=feed)
        run = papers_fetch_arxiv_day(categories=["cs.LG"], date=DAY)
        starts = [int(sent_params(call)["start"]) for call in mock.calls]

    page = 200
    assert starts == list(range(0, ARXIV_DAY_MAX_RESULTS, page))
    assert ARXIV_DAY_MAX_RESULTS == 5_000
    fetched = len(starts) * feed.count(b"<entry>")
    assert run.status == FetchRun.Status.SUCCEEDED
    assert run.error == f"truncated: fetched {fetched} of {total_results_of(feed)} for cs.LG"
    assert run.error == "truncated: fetched 375 of 214881 for cs.LG"
    assert run.created == Paper.objects.count() == feed.count(b"<entry>")


def test_an_arxiv_answer_short_of_its_total_is_noted_for_that_category_only() -> None:
    short = fixture_bytes(ARXIV_SHORT)  # 10 entries, totalResults 31
    day = {"submittedDate": "[202511200000 TO 202511202359]"}
    with responses.RequestsMock() as mock:
        for category, body in (("cs.CV", fixture_bytes(ARXIV_TWO_IDS)), ("cond-mat.str-el", short)):
            query = f"cat:{category} AND submittedDate:{day['submittedDate']}"
            mock.get(
                arxiv_api.API_URL,
                body=body,
                match=[matchers.query_param_matcher({"search_query": query}, strict_match=False)],
            )
        run = papers_fetch_arxiv_day(categories=["cs.CV", "cond-mat.str-el"], date=DAY)
        assert len(mock.calls) == 2  # one page each: arXiv said it had no more for this query

    assert run.status == FetchRun.Status.SUCCEEDED
    assert run.error == (
        f"truncated: fetched {short.count(b'<entry>')} of {total_results_of(short)} "
        "for cond-mat.str-el"
    )
    assert run.error == "truncated: fetched 10 of 31 for cond-mat.str-el"
    assert run.created == Paper.objects.count() == 11


def test_an_arxiv_day_with_a_bad_page_fails_the_run_and_stores_nothing() -> None:
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, body=truncated(ARXIV_MAX15))
        run = papers_fetch_arxiv_day(categories=["cs.LG"], date=DAY)

    assert run.status == FetchRun.Status.FAILED
    assert "malformed XML" in run.error
    assert Paper.objects.count() == 0


def test_arxiv_by_ids_asks_for_exactly_those_ids() -> None:
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, body=fixture_bytes(ARXIV_TWO_IDS))
        run = papers_fetch_arxiv(categories=[], ids=["0808.05394", "1707.08567"])
        params = sent_params(mock.calls[0])

    assert params["id_list"] == "0808.05394,1707.08567"
    assert run.params == {"ids": ["0808.05394", "1707.08567"]}
    assert run.created == 1
    assert Paper.objects.get().arxiv_id == "1707.08567"


def test_a_paper_seen_by_hf_and_by_arxiv_is_one_row_with_both_sources() -> None:
    items = json.loads(fixture_bytes(HF_DAY))
    feed = fixture_bytes(ARXIV_MAX15)
    arxiv_ids = arxiv_api.parse(feed).records
    # Give an HF item the id of a paper in the arXiv feed, as when both list the same paper.
    items[0]["paper"]["id"] = arxiv_ids[0].arxiv_id
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, json=items)
        mock.get(arxiv_api.API_URL, body=feed)
        papers_fetch_hf(date=DAY)
        run = papers_fetch_arxiv(categories=[], ids=[arxiv_ids[0].arxiv_id])

    assert (run.created, run.updated) == (len(arxiv_ids) - 1, 1)
    paper = Paper.objects.get(arxiv_id=arxiv_ids[0].arxiv_id)
    assert paper.sources == ["arxiv", "hf"]
    assert paper.title == arxiv_ids[0].title
    assert paper.categories == list(arxiv_ids[0].categories)
    assert paper.upvotes == items[0]["paper"]["upvotes"]


def test_validators_are_remembered_only_after_the_ingest_commits(
    django_capture_on_commit_callbacks,
) -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=truncated(HF_DAY), headers={"ETag": '"bad"'})
        with django_capture_on_commit_callbacks(execute=True):
            papers_fetch_hf(date=DAY)
        mock.replace(
            responses.GET, hf_api.API_URL, body=fixture_bytes(HF_DAY), headers={"ETag": '"good"'}
        )
        with django_capture_on_commit_callbacks(execute=True):
            papers_fetch_hf(date=DAY)
        mock.remove(responses.GET, hf_api.API_URL)
        page = {"date": "2025-11-20", "limit": "100"}
        mock.get(
            hf_api.API_URL, status=304, match=[matchers.query_param_matcher({**page, "p": "0"})]
        )
        mock.get(hf_api.API_URL, json=[], match=[matchers.query_param_matcher({**page, "p": "1"})])
        with django_capture_on_commit_callbacks(execute=True):
            unchanged = papers_fetch_hf(date=DAY)
        sent = [call.request.headers.get("If-None-Match") for call in mock.calls]

    # The failed body's ETag was never kept (it would hide the day forever); the ingested one was.
    assert sent == [None, None, '"good"', None]
    assert unchanged.status == FetchRun.Status.SUCCEEDED
    assert (unchanged.created, unchanged.updated, unchanged.unchanged) == (0, 0, 0)


@pytest.mark.parametrize(
    ("relative", "fmt"),
    [
        (HF_DAY, "hf"),
        (HF_HTML, "hf-html"),
        (ARXIV_MAX15, "arxiv"),
        (RSS_ATOM, "arxiv-rss"),
    ],
)
def test_a_saved_file_is_loaded_with_its_format_recognized(relative: str, fmt: str) -> None:
    path = FIXTURES / relative

    run = papers_load_file(path=path)

    assert run.status == FetchRun.Status.SUCCEEDED
    assert run.source == Source.FILE
    assert run.params == {"path": str(path), "format": fmt}
    assert run.created == Paper.objects.count() > 0


def test_an_unrecognized_or_missing_file_fails_the_run(tmp_path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"hello, this is not a feed")

    unrecognized = papers_load_file(path=junk)
    missing = papers_load_file(path=tmp_path / "nope.json")

    assert unrecognized.status == missing.status == FetchRun.Status.FAILED
    assert "unrecognized format" in unrecognized.error
    assert "cannot read" in missing.error
    assert Paper.objects.count() == 0


def test_arxiv_rss_source_constant_matches_the_model() -> None:
    assert arxiv_rss.SOURCE == Source.ARXIV_RSS
    assert arxiv_api.SOURCE == Source.ARXIV


@pytest.mark.postgres
def test_papers_are_searchable_as_soon_as_their_fetch_returns() -> None:
    good_hf_fetch()

    assert Paper.objects.filter(search_vector__isnull=True).count() == 0
    title = json.loads(fixture_bytes(HF_DAY))[0]["paper"]["title"]
    assert paper_search(query=" ".join(title.split()[:4])).exists()


# --- The HF day with its HTML fallback ---------------------------------------------------

HTML_DAY = dt.date(2024, 8, 1)
HTML_URL = f"{hf_html.PAPERS_URL}/date/2024-08-01"
CUT_SHORT_HTML = b"<html><body>cut sh"


def runs_made() -> list[tuple[str, str]]:
    return list(FetchRun.objects.order_by("pk").values_list("source", "status"))


def test_when_the_hf_api_keeps_failing_the_days_html_page_is_used() -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, status=500, body=b"Internal Server Error")
        mock.get(HTML_URL, body=fixture_bytes(HF_HTML))
        run = papers_fetch_hf_day(date=HTML_DAY)
        urls = [str(call.request.url).split("?")[0] for call in mock.calls]

    # The client's own retries first (settings_test: 2), then the page.
    assert urls == [hf_api.API_URL] * 3 + [HTML_URL]
    assert runs_made() == [(Source.HF, "failed"), (Source.HF_HTML, "succeeded")]
    failed = FetchRun.objects.get(source=Source.HF)
    assert "HTTP 500" in failed.error
    assert failed.params == run.params == {"date": "2024-08-01"}
    assert run.source == Source.HF_HTML
    assert run.error == ""
    assert run.created == Paper.objects.count() == fixture_bytes(HF_HTML).count(b"<article") == 13


def test_a_malformed_hf_api_answer_falls_back_to_the_html_page_without_retrying_the_api() -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=truncated(HF_DAY))
        mock.get(HTML_URL, body=fixture_bytes(HF_HTML))
        run = papers_fetch_hf_day(date=HTML_DAY)
        assert len(mock.calls) == 2

    assert runs_made() == [(Source.HF, "failed"), (Source.HF_HTML, "succeeded")]
    assert "invalid JSON" in FetchRun.objects.get(source=Source.HF).error
    assert run.created == 13


def test_when_the_hf_api_works_the_html_page_is_never_asked_for() -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=fixture_bytes(HF_DAY))
        run = papers_fetch_hf_day(date=DAY)
        assert all(str(call.request.url).startswith(hf_api.API_URL + "?") for call in mock.calls)

    assert runs_made() == [(Source.HF, "succeeded")]
    assert run.created == hf_day_count()


def test_an_empty_day_from_the_api_is_a_success_not_a_reason_to_fall_back() -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, json=[])
        run = papers_fetch_hf_day(date=DAY)

    assert runs_made() == [(Source.HF, "succeeded")]
    assert run.created == 0


def test_when_both_are_down_it_raises_a_transient_error_and_changes_nothing() -> None:
    good_hf_fetch()
    before = stored_state()

    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, status=503)
        mock.get(HTML_URL, status=502)
        with pytest.raises(TransientFetchError, match="HTTP 502"):
            papers_fetch_hf_day(date=HTML_DAY)
        assert len(mock.calls) == 6

    assert runs_made()[1:] == [(Source.HF, "failed"), (Source.HF_HTML, "failed")]
    assert stored_state() == before


def test_a_transient_api_failure_is_still_raised_when_the_page_fails_for_good() -> None:
    # The page will not get better by waiting; the API may: the task should retry.
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, status=503)
        mock.get(HTML_URL, body=CUT_SHORT_HTML)
        with pytest.raises(TransientFetchError, match="daily_papers: HTTP 503"):
            papers_fetch_hf_day(date=HTML_DAY)

    assert runs_made() == [(Source.HF, "failed"), (Source.HF_HTML, "failed")]
    assert "no papers found in HTML" in FetchRun.objects.get(source=Source.HF_HTML).error


def test_when_both_fail_for_good_the_failed_run_is_returned_not_raised() -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=b'{"error": "Invalid date"}')
        mock.get(HTML_URL, body=CUT_SHORT_HTML)
        run = papers_fetch_hf_day(date=HTML_DAY)

    assert runs_made() == [(Source.HF, "failed"), (Source.HF_HTML, "failed")]
    assert run.source == Source.HF_HTML
    assert run.status == FetchRun.Status.FAILED
    assert "no papers found in HTML" in run.error
    assert Paper.objects.count() == 0
