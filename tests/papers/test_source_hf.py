"""Hugging Face Daily Papers: the JSON API and the HTML pages, on real captured responses.

Expectations are computed from the fixtures with json/re (never copied from parser output).
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import json
import random
import re
import unicodedata
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from papers.sources import hf_api, hf_html
from papers.sources.http import HttpClient
from papers.sources.records import ParseError
from tests.helpers import fixture_bytes

DAILY = "hf_daily_papers/"
MONTH_2023_08 = DAILY + "api_daily_papers_month-2023-08_sort-publishedAt_all-pages.json"
MONTH_2024_10_P4 = (
    DAILY + "api_daily_papers_month-2024-10_sort-publishedAt_limit100_p4-lastpage.json"
)
MONTH_2025_09_P5 = (
    DAILY + "api_daily_papers_month-2025-09_sort-publishedAt_limit100_p5-lastpage.json"
)
MONTH_2025_11_P0 = DAILY + "api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"
DAY_2025_11_20 = DAILY + "DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json"
API_FIXTURES = [MONTH_2023_08, MONTH_2024_10_P4, MONTH_2025_09_P5, MONTH_2025_11_P0, DAY_2025_11_20]

INDEX_HTML = "hf_papers_html/papers_index_2024-08-01_raw.html"
PAPER_HTML = "hf_papers_html/paper_page_2509.24002_2025-10-01_bs4-prettified.html"

DATA_PROPS = re.compile(r"""data-props=(?:"([^"]*)"|'([^']*)')""")


def _fixture_items(relative: str) -> list[dict[str, Any]]:
    return json.loads(fixture_bytes(relative))


def _one_line(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _parse_utc(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _props_with(raw: bytes, key: str) -> dict[str, Any]:
    """The page's hydration JSON holding `key`, read with re + json (not the parser under test)."""
    for double, single in DATA_PROPS.findall(raw.decode()):
        props = json.loads(html.unescape(double or single))
        if isinstance(props, dict) and key in props:
            return props
    raise AssertionError(f"no data-props with {key!r}")


def _without_props(raw: bytes) -> bytes:
    stripped = re.sub(rb"""data-props=(?:"[^"]*"|'[^']*')""", b"", raw)
    assert b"data-props" not in stripped
    return stripped


# --- API: every real capture ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "count"),
    [
        (MONTH_2023_08, 113),
        (MONTH_2024_10_P4, 82),
        (MONTH_2025_09_P5, 35),
        (MONTH_2025_11_P0, 100),
        (DAY_2025_11_20, 12),
    ],
)
def test_it_parses_every_item_of_every_captured_response(relative: str, count: int) -> None:
    result = hf_api.parse(fixture_bytes(relative))

    # No item in the captures is unusable, so none is skipped.
    assert result.skipped == []
    assert len(result.records) == count
    assert [r.arxiv_id for r in result.records] == [
        item["paper"]["id"] for item in _fixture_items(relative)
    ]


@pytest.mark.parametrize("relative", API_FIXTURES)
def test_it_maps_every_field_as_the_raw_json_has_it(relative: str) -> None:
    records = hf_api.parse(fixture_bytes(relative)).records

    for item, record in zip(_fixture_items(relative), records, strict=True):
        paper = item["paper"]
        assert record.source == "hf"
        assert record.title == _one_line(paper["title"])
        assert record.abstract == _one_line(paper["summary"])
        assert record.authors == tuple(_one_line(a["name"]) for a in paper["authors"])
        assert record.published_at == _parse_utc(paper["publishedAt"])
        assert record.hf_date == dt.date.fromisoformat(paper["submittedOnDailyAt"][:10])
        assert record.upvotes == paper["upvotes"]
        assert record.num_comments == item["numComments"]
        assert record.github_repo == paper.get("githubRepo", "")
        assert record.github_stars == paper.get("githubStars")
        assert record.project_page == re.sub(r"[\t\n\r]", "", paper.get("projectPage", ""))
        assert record.thumbnail == item["thumbnail"]
        assert record.ai_summary == _one_line(paper.get("ai_summary", ""))
        assert record.ai_keywords == tuple(k for k in paper.get("ai_keywords", []) if k.strip())
        assert record.categories == ()
        assert record.withdrawn_at == (
            _parse_utc(paper["withdrawnAt"]) if "withdrawnAt" in paper else None
        )


def test_it_puts_hard_wrapped_titles_on_one_line() -> None:
    items = _fixture_items(MONTH_2024_10_P4)
    wrapped = [item["paper"]["id"] for item in items if "\n" in item["paper"]["title"]]
    assert len(wrapped) == 43  # the capture's hard-wrapped titles, so the test does exercise them

    records = {r.arxiv_id: r for r in hf_api.parse(fixture_bytes(MONTH_2024_10_P4)).records}
    for arxiv_id in wrapped:
        assert "\n" not in records[arxiv_id].title
        assert "  " not in records[arxiv_id].title


def test_it_unwraps_the_pi_rl_title() -> None:
    raw_item = next(
        i for i in _fixture_items(MONTH_2025_11_P0) if i["paper"]["title"].startswith("π_RL")
    )
    assert "\n  " in raw_item["paper"]["title"]

    record = next(
        r
        for r in hf_api.parse(fixture_bytes(MONTH_2025_11_P0)).records
        if r.title.startswith("π_RL")
    )

    assert record.arxiv_id == raw_item["paper"]["id"]
    assert (
        record.title == "π_RL: Online RL Fine-tuning for Flow-based Vision-Language-Action Models"
    )


def test_it_records_when_a_paper_was_withdrawn() -> None:
    records = hf_api.parse(fixture_bytes(MONTH_2024_10_P4)).records

    withdrawn = [r for r in records if r.withdrawn_at is not None]

    assert [r.arxiv_id for r in withdrawn] == ["2410.07062"]
    assert withdrawn[0].withdrawn_at == dt.datetime(2025, 2, 13, 19, 7, 6, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "relative", [MONTH_2023_08, MONTH_2024_10_P4, MONTH_2025_09_P5, MONTH_2025_11_P0]
)
def test_it_keeps_hidden_authors_in_their_place(relative: str) -> None:
    records = {r.arxiv_id: r for r in hf_api.parse(fixture_bytes(relative)).records}
    hidden = [
        (item["paper"]["id"], position, author["name"])
        for item in _fixture_items(relative)
        for position, author in enumerate(item["paper"]["authors"])
        if author.get("hidden")
    ]
    assert hidden  # every one of these captures has some

    for arxiv_id, position, name in hidden:
        assert records[arxiv_id].authors[position] == name


def test_it_keeps_non_ascii_names_and_titles_intact() -> None:
    records = {r.arxiv_id: r for r in hf_api.parse(fixture_bytes(MONTH_2024_10_P4)).records}
    non_ascii = [
        (item["paper"]["id"], author["name"])
        for item in _fixture_items(MONTH_2024_10_P4)
        for author in item["paper"]["authors"]
        if not author["name"].isascii()
    ]
    assert non_ascii

    for arxiv_id, name in non_ascii:
        assert unicodedata.normalize("NFC", name) in records[arxiv_id].authors
    kerbl = next(
        r for r in hf_api.parse(fixture_bytes(MONTH_2023_08)).records if r.arxiv_id == "2308.04079"
    )
    assert "Thomas Leimkühler" in kerbl.authors


def test_it_leaves_fields_hf_does_not_have_empty() -> None:
    papers = [i["paper"] for i in _fixture_items(MONTH_2025_11_P0)]
    no_summary = [p["id"] for p in papers if "ai_summary" not in p]
    no_repo = [p["id"] for p in papers if "githubRepo" not in p]
    assert "2511.11793" in no_summary
    assert (len(no_summary), len(no_repo)) == (11, 25)

    records = {r.arxiv_id: r for r in hf_api.parse(fixture_bytes(MONTH_2025_11_P0)).records}

    assert all(records[i].ai_summary == "" and records[i].ai_keywords == () for i in no_summary)
    assert all(records[i].github_repo == "" and records[i].github_stars is None for i in no_repo)
    assert all(records[i].ai_summary for i in records.keys() - set(no_summary))
    assert all(
        records[i].github_repo.startswith("https://github.com/")
        for i in records.keys() - set(no_repo)
    )


def test_it_joins_a_url_hf_hard_wrapped() -> None:
    raw_paper = next(
        i["paper"] for i in _fixture_items(MONTH_2025_11_P0) if i["paper"]["id"] == "2511.11113"
    )
    assert raw_paper["projectPage"] == "https://videop2r.\ngithub.io/videop2r/"

    record = next(
        r
        for r in hf_api.parse(fixture_bytes(MONTH_2025_11_P0)).records
        if r.arxiv_id == "2511.11113"
    )

    assert record.project_page == "https://videop2r.github.io/videop2r/"


def test_it_drops_empty_ai_keywords() -> None:
    raw_keywords = next(
        i["paper"]["ai_keywords"]
        for i in _fixture_items(MONTH_2023_08)
        if i["paper"]["id"] == "2308.05884"
    )
    assert "" in raw_keywords

    record = next(
        r for r in hf_api.parse(fixture_bytes(MONTH_2023_08)).records if r.arxiv_id == "2308.05884"
    )

    assert record.ai_keywords == tuple(k for k in raw_keywords if k)


def test_it_keeps_zero_upvotes_as_zero() -> None:
    zero = [
        i["paper"]["id"] for i in _fixture_items(MONTH_2025_09_P5) if i["paper"]["upvotes"] == 0
    ]
    assert len(zero) == 4

    records = {r.arxiv_id: r for r in hf_api.parse(fixture_bytes(MONTH_2025_09_P5)).records}

    assert [records[arxiv_id].upvotes for arxiv_id in zero] == [0, 0, 0, 0]


def test_it_dates_an_item_without_submitted_on_daily_at_by_its_listing_time() -> None:
    # Listings of 2024 and older carry no paper.submittedOnDailyAt; their item publishedAt is
    # when the paper was put on the list.
    item = copy.deepcopy(_fixture_items(DAY_2025_11_20)[0])
    del item["paper"]["submittedOnDailyAt"]
    item["publishedAt"] = "2024-10-25T01:02:03.000Z"

    record = hf_api.parse(json.dumps([item]).encode()).records[0]

    assert record.hf_date == dt.date(2024, 10, 25)
    assert record.published_at == _parse_utc(item["paper"]["publishedAt"])


def test_it_takes_the_item_title_when_the_paper_has_none() -> None:
    item = copy.deepcopy(_fixture_items(DAY_2025_11_20)[0])
    del item["paper"]["title"]

    record = hf_api.parse(json.dumps([item]).encode()).records[0]

    assert record.title == _one_line(item["title"])


def test_it_drops_unsafe_links() -> None:
    item = copy.deepcopy(_fixture_items(DAY_2025_11_20)[0])
    item["paper"]["githubRepo"] = "javascript:alert(1)"
    item["paper"]["projectPage"] = "owner/repo"
    item["thumbnail"] = "data:image/png;base64,AAAA"

    record = hf_api.parse(json.dumps([item]).encode()).records[0]

    assert (record.github_repo, record.project_page, record.thumbnail) == ("", "", "")


def test_it_parses_an_empty_day_as_no_records() -> None:
    result = hf_api.parse(b"[]")

    assert result.records == []
    assert result.skipped == []


# --- API: bad input ---------------------------------------------------------------------------


def _parse_error(raw: bytes) -> str:
    with pytest.raises(ParseError) as caught:
        hf_api.parse(raw)
    message = str(caught.value)
    assert message
    assert "\n" not in message
    return message


def test_it_refuses_truncated_json() -> None:
    raw = fixture_bytes(MONTH_2025_11_P0)

    assert "invalid JSON" in _parse_error(raw[: len(raw) // 2])


def test_it_reports_the_text_of_an_api_error() -> None:
    assert _parse_error(b'{"error":"Invalid date"}') == "API error: Invalid date"


@pytest.mark.parametrize("raw", [b"", b"  \n"])
def test_it_refuses_an_empty_body(raw: bytes) -> None:
    assert _parse_error(raw) == "empty response body"


@pytest.mark.parametrize("raw", [b"null", b"42", b'"papers"', b'{"papers": []}'])
def test_it_refuses_json_that_is_not_a_list(raw: bytes) -> None:
    assert "expected a JSON list" in _parse_error(raw)


def test_it_refuses_random_bytes() -> None:
    _parse_error(random.Random(2).randbytes(512))


def test_it_refuses_an_html_page_given_as_api_response() -> None:
    assert "invalid JSON" in _parse_error(fixture_bytes(INDEX_HTML))


def test_it_skips_bad_items_and_keeps_the_good_ones() -> None:
    good = _fixture_items(DAY_2025_11_20)[:3]
    abc_upvotes = copy.deepcopy(good[0])
    abc_upvotes["paper"]["upvotes"] = "abc"
    no_id = copy.deepcopy(good[0])
    del no_id["paper"]["id"]
    bad_id = copy.deepcopy(good[0])
    bad_id["paper"]["id"] = "not-an-id"
    no_title = copy.deepcopy(good[0])
    no_title["paper"]["title"] = "  \n "
    no_title["title"] = ""
    no_paper = {key: value for key, value in good[0].items() if key != "paper"}
    items = [
        good[0],
        "a string",
        abc_upvotes,
        good[1],
        no_id,
        bad_id,
        no_title,
        17,
        None,
        no_paper,
        good[2],
    ]

    result = hf_api.parse(json.dumps(items).encode())

    assert [r.arxiv_id for r in result.records] == [item["paper"]["id"] for item in good]
    assert len(result.skipped) == 8
    assert result.skipped[0].startswith("item 1: ")
    assert result.skipped[1].startswith("item 2: ")
    assert "upvotes" in result.skipped[1]
    assert result.skipped[2] == "item 4: no arXiv id"
    assert result.skipped[3] == "item 5: invalid arXiv id 'not-an-id'"
    assert result.skipped[4].startswith("item 6: ")
    assert "no title" in result.skipped[4]


def test_it_skips_a_repeated_paper() -> None:
    first, second = _fixture_items(DAY_2025_11_20)[:2]

    result = hf_api.parse(json.dumps([first, second, first]).encode())

    assert [r.arxiv_id for r in result.records] == [first["paper"]["id"], second["paper"]["id"]]
    assert result.skipped == [f"item 2: {first['paper']['id']} duplicates item 0"]


WRONG_VALUES = [None, "abc", -1, 1.5, True, [], {}, [1, None], {"name": 3}]


def _wrong_variants(original: dict[str, Any]) -> list[dict[str, Any]]:
    """The item with each of its fields (and its paper's) replaced by each wrongly typed value."""
    variants = []
    for key in original:
        variants += [{**copy.deepcopy(original), key: value} for value in WRONG_VALUES]
    for key in original["paper"]:
        for value in WRONG_VALUES:
            variant = copy.deepcopy(original)
            variant["paper"][key] = value
            variants.append(variant)
    for value in WRONG_VALUES:
        variant = copy.deepcopy(original)
        variant["paper"]["authors"] = [value, *variant["paper"]["authors"]]
        variants.append(variant)
    return variants


def test_it_never_lets_a_wrongly_typed_field_escape_as_an_exception() -> None:
    original = _fixture_items(MONTH_2025_11_P0)[0]
    variants = _wrong_variants(original)
    assert len(variants) > 200

    for variant in variants:
        result = hf_api.parse(json.dumps([variant]).encode())

        assert len(result.records) + len(result.skipped) == 1
        # Every wrong type is named by a check of its own, not caught by the safety net.
        assert not any("unexpected shape" in reason for reason in result.skipped), result.skipped
        for record in result.records:
            assert record.arxiv_id == original["paper"]["id"]
            assert record.title
            assert "\n" not in record.title
            assert record.upvotes is None or (type(record.upvotes) is int and record.upvotes >= 0)
            assert record.num_comments is None or type(record.num_comments) is int
            assert all(isinstance(name, str) and name for name in record.authors)
            assert all(isinstance(word, str) and word for word in record.ai_keywords)


# --- API: fetch -------------------------------------------------------------------------------


def _api_page(items: list[dict[str, Any]]) -> bytes:
    return json.dumps(items, separators=(",", ":")).encode()


def _sent_queries(calls: responses.CallList) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(call.request.path_url).query) for call in calls]


@responses.activate
def test_it_fetches_pages_until_a_short_one() -> None:
    items = _fixture_items(MONTH_2025_11_P0)
    for page in range(4):
        responses.get(hf_api.API_URL, body=_api_page(items[page * 10 : min(page * 10 + 10, 35)]))

    pages = hf_api.fetch(HttpClient(retries=0), month="2025-11", limit=10)

    assert [len(json.loads(p.content)) for p in pages] == [10, 10, 10, 5]
    assert _sent_queries(responses.calls) == [
        {"month": ["2025-11"], "limit": ["10"], "p": [str(p)]} for p in range(4)
    ]
    assert [r.arxiv_id for p in pages for r in hf_api.parse(p.content).records] == [
        i["paper"]["id"] for i in items[:35]
    ]


@responses.activate
def test_it_asks_for_a_day_or_a_week() -> None:
    responses.get(hf_api.API_URL, body=fixture_bytes(DAY_2025_11_20))
    responses.get(hf_api.API_URL, body=b"[]")

    day = hf_api.fetch(HttpClient(retries=0), date=dt.date(2025, 11, 20))
    week = hf_api.fetch(HttpClient(retries=0), week="2025-W47")

    assert len(day) == 1
    assert len(week) == 1
    assert _sent_queries(responses.calls) == [
        {"date": ["2025-11-20"], "limit": ["100"], "p": ["0"]},
        {"week": ["2025-W47"], "limit": ["100"], "p": ["0"]},
    ]


@responses.activate
def test_it_leaves_out_pages_the_server_says_are_unchanged() -> None:
    items = _fixture_items(MONTH_2025_09_P5)
    responses.get(hf_api.API_URL, status=304)
    responses.get(hf_api.API_URL, body=_api_page(items[:10]))
    responses.get(hf_api.API_URL, body=_api_page(items[10:13]))

    pages = hf_api.fetch(HttpClient(retries=0), month="2025-09", limit=10)

    # A 304 page's length is unknown, so fetching goes on past it.
    assert len(responses.calls) == 3
    assert [len(json.loads(p.content)) for p in pages] == [10, 3]
    assert [q["p"] for q in _sent_queries(responses.calls)] == [["0"], ["1"], ["2"]]


@responses.activate
def test_it_stops_after_fifty_pages() -> None:
    responses.get(hf_api.API_URL, body=_api_page(_fixture_items(DAY_2025_11_20)[:1]))

    pages = hf_api.fetch(HttpClient(retries=0), month="2025-11", limit=1)

    assert len(pages) == hf_api.MAX_PAGES == 50
    assert len(responses.calls) == 50


@responses.activate
def test_it_raises_parse_error_for_a_bad_page() -> None:
    responses.get(hf_api.API_URL, body=_api_page(_fixture_items(DAY_2025_11_20)[:2]))
    responses.get(hf_api.API_URL, body=b'{"error":"Invalid date"}')

    with pytest.raises(ParseError, match="Invalid date"):
        hf_api.fetch(HttpClient(retries=0), month="2025-11", limit=2)


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ({}, r"give exactly one of date, week, month \(got none\)"),
        (
            {"date": dt.date(2025, 11, 20), "month": "2025-11"},
            r"give exactly one of date, week, month \(got date, month\)",
        ),
        ({"week": "2025-47"}, "week must look like 2025-W47, got '2025-47'"),
        ({"month": "2025-11-01"}, "month must look like 2025-11, got '2025-11-01'"),
        ({"month": "2025-11", "limit": 0}, "limit must be between 1 and 100, got 0"),
        ({"month": "2025-11", "limit": 101}, "limit must be between 1 and 100, got 101"),
    ],
)
def test_it_refuses_a_period_that_is_not_exactly_one_day_week_or_month(
    period: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        hf_api.fetch(HttpClient(retries=0), **period)


# --- HTML -------------------------------------------------------------------------------------


def test_it_reads_the_daily_list_from_its_hydration_json() -> None:
    raw = fixture_bytes(INDEX_HTML)
    props = _props_with(raw, "dailyPapers")

    result = hf_html.parse(raw)

    assert result.skipped == []
    assert len(result.records) == 13
    for item, record in zip(props["dailyPapers"], result.records, strict=True):
        assert record.source == "hf-html"
        assert record.arxiv_id == item["paper"]["id"]
        assert record.title == _one_line(item["paper"]["title"])
        assert record.authors == tuple(_one_line(a["name"]) for a in item["paper"]["authors"])
        assert record.upvotes == item["paper"]["upvotes"]
        assert record.num_comments == item["numComments"]
        assert record.thumbnail == item["thumbnail"]
        # 2024 items have no submittedOnDailyAt: the page's own date says which day's list it is.
        assert record.hf_date == dt.date.fromisoformat(props["date"][:10]) == dt.date(2024, 8, 1)


def test_it_falls_back_to_the_visible_cards_without_hydration_json() -> None:
    raw = fixture_bytes(INDEX_HTML)
    props = _props_with(raw, "dailyPapers")
    linked_ids = list(dict.fromkeys(re.findall(r'href="/papers/(\d{4}\.\d{4,5})"', raw.decode())))
    assert len(linked_ids) == 13

    result = hf_html.parse(_without_props(raw))

    assert [r.arxiv_id for r in result.records] == linked_ids
    assert [r.arxiv_id for r in result.records] == [i["paper"]["id"] for i in props["dailyPapers"]]
    assert [r.title for r in result.records] == [
        _one_line(i["title"]) for i in props["dailyPapers"]
    ]
    assert [r.upvotes for r in result.records] == [
        i["paper"]["upvotes"] for i in props["dailyPapers"]
    ]
    assert [r.num_comments for r in result.records] == [
        i["numComments"] for i in props["dailyPapers"]
    ]
    assert all(r.source == "hf-html" for r in result.records)


def test_it_does_not_take_a_cards_comment_count_for_its_upvotes() -> None:
    raw = _without_props(fixture_bytes(INDEX_HTML))
    counter = re.compile(rb'<div class="leading-none">\d+</div>')
    assert len(counter.findall(raw)) == 13

    result = hf_html.parse(counter.sub(b"", raw))

    assert [r.upvotes for r in result.records] == [None] * 13
    assert all(r.num_comments is not None for r in result.records)


def test_it_falls_back_to_the_cards_when_the_hydration_json_is_broken() -> None:
    raw = fixture_bytes(INDEX_HTML).replace(
        b"{&quot;canSubmit&quot;", b"{&quot;canSubmit&quot;&quot;", 1
    )

    result = hf_html.parse(raw)

    assert len(result.records) == 13
    assert all(r.abstract == "" for r in result.records)  # the cards carry no abstracts


def test_it_reads_a_single_paper_page() -> None:
    raw = fixture_bytes(PAPER_HTML)
    paper = _props_with(raw, "paper")["paper"]
    upvote_control = _props_with(raw, "apiUrlPrefix")

    result = hf_html.parse(raw)

    assert result.skipped == []
    [record] = result.records
    assert record.arxiv_id == paper["id"] == "2509.24002"
    assert (
        record.title
        == "MCPMark: A Benchmark for Stress-Testing Realistic and Comprehensive MCP Use"
    )
    assert record.upvotes == upvote_control["upvotes"] == 118
    assert record.authors == tuple(a["name"] for a in paper["authors"])
    assert record.abstract == _one_line(paper["summary"])
    assert record.hf_date == dt.date(2025, 10, 1)
    assert record.github_repo == paper["githubRepo"]
    assert record.github_stars == paper["githubStars"]
    assert record.project_page == paper["projectPage"]
    assert record.ai_keywords == tuple(paper["ai_keywords"])


def test_it_takes_upvotes_from_the_upvote_control_when_the_paper_lacks_them() -> None:
    raw = fixture_bytes(PAPER_HTML)
    content = _props_with(raw, "paper")
    del content["paper"]["upvotes"]
    upvote_control = _props_with(raw, "apiUrlPrefix")
    page = (
        f'<div data-target="PaperContent" data-props="{html.escape(json.dumps(content))}"></div>'
        '<div data-target="UpvoteControl" '
        f'data-props="{html.escape(json.dumps(upvote_control))}"></div>'
    )

    [record] = hf_html.parse(page.encode()).records

    assert record.upvotes == 118


def test_it_parses_a_day_nobody_posted_as_no_records() -> None:
    props = {**_props_with(fixture_bytes(INDEX_HTML), "dailyPapers"), "dailyPapers": []}
    page = f'<div data-target="DailyPapers" data-props="{html.escape(json.dumps(props))}"></div>'

    result = hf_html.parse(page.encode())

    assert result.records == []
    assert result.skipped == []


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        (
            b"<html><body><h1>Hello</h1>"
            b"<article><a href='/models/x'>A model</a></article></body></html>"
        ),
        fixture_bytes(MONTH_2025_11_P0),
        random.Random(3).randbytes(512),
    ],
)
def test_it_refuses_a_page_without_papers(raw: bytes) -> None:
    with pytest.raises(ParseError, match="no papers found in HTML"):
        hf_html.parse(raw)


@responses.activate
def test_it_fetches_the_list_of_a_day_or_of_today() -> None:
    raw = fixture_bytes(INDEX_HTML)
    responses.get("https://huggingface.co/papers/date/2024-08-01", body=raw)
    responses.get("https://huggingface.co/papers", body=raw)

    day = hf_html.fetch(HttpClient(retries=0), date=dt.date(2024, 8, 1))
    today = hf_html.fetch(HttpClient(retries=0))

    assert [f.content for f in day + today] == [raw, raw]
    assert [c.request.url for c in responses.calls] == [
        "https://huggingface.co/papers/date/2024-08-01",
        "https://huggingface.co/papers",
    ]


@responses.activate
def test_it_returns_nothing_for_an_unchanged_html_page() -> None:
    responses.get("https://huggingface.co/papers", status=304)

    assert hf_html.fetch(HttpClient(retries=0)) == []
