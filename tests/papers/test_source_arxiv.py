"""The arXiv API and RSS/Atom sources, on the real captured responses in tests/fixtures.

Expectations are read from the raw XML with regular expressions (independently of the parser)
wherever that is possible.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from papers.sources import arxiv_api, arxiv_rss
from papers.sources.http import FetchError, HttpClient
from papers.sources.records import ParseError
from tests.helpers import fixture_bytes, fully_matched, matched

API_MAX15 = "arxiv_atom/2026-04-12_api_query_search-testing_start0_max15.xml"
API_MAX100 = "arxiv_atom/2026-04-12_api_query_search-testing_start0_max100.xml"
API_EMPTY = "arxiv_atom/2026-04-12_api_query_idlist-0000.0000_empty-zero-results.xml"
API_ERROR = "arxiv_atom/2026-04-12_api_query_idlist-abc_error-http400.xml"
API_TWO_IDS = "arxiv_atom/2026-04-12_api_query_idlist-two-ids-one-nonexistent.xml"
API_TITLE_ZERO = "arxiv_atom/2026-04-12_api_query_idlist-2104.12255v1_versioned-id.xml"
API_OLD_STYLE_ID = (
    "arxiv_atom/2026-05-11_api_query_idlist-astro-ph_0601001_affiliations-journalref.xml"
)
API_OLD_FORMAT_ONE = "arxiv_atom/2016-10-09_api_query_idlist-1111.2011v2_OLD-FORMAT.xml"
API_OLD_FORMAT_TEN = "arxiv_atom/2016-10-09_api_query_search-au-del_maestro_max10_OLD-FORMAT.xml"
API_GOOD = [API_MAX15, API_MAX100, API_EMPTY, API_TWO_IDS, API_TITLE_ZERO, API_OLD_STYLE_ID]
API_GOOD += [API_OLD_FORMAT_ONE, API_OLD_FORMAT_TEN]

RSS_ALL = "arxiv_rss/2024-11-28_rss_all-archives_TRUNCATED-659-of-1504-items.xml"
RSS_EMPTY = "arxiv_rss/2024-11-28_rss_test_EMPTY-no-items.xml"
RSS_ERROR = "arxiv_rss/2024-11-28_rss_astroph_ERROR-bad-archive.xml"
RSS_ATOM = "arxiv_rss/2025-08-20_atom-feed_cs.AI_TRUNCATED-86-entries_closed.xml"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE feed [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2104.12255v1</id>
<title>&lol9;</title></entry></feed>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&xxe;</title><item><title>&xxe;</title>
<guid>oai:arXiv.org:2411.17700v1</guid></item></channel></rss>"""


# -- expectations computed from the raw XML --------------------------------------------------


def _xml_text(fragment: str) -> str:
    """Element text as XML would give it: entities decoded, whitespace runs collapsed."""
    return " ".join(html.unescape(fragment).split())


def _wire_text(relative: str) -> str:
    """The fixture's text as arXiv sent it.

    The 2026 API captures were saved after a Latin-1 decode of the UTF-8 body ("Wübben" became
    "WÃ¼bben"); undoing that whole-file gives back what the wire said.
    """
    text = fixture_bytes(relative).decode()
    try:
        return text.encode("latin-1").decode()
    except UnicodeError:
        return text


def _raw_entries(relative: str) -> list[str]:
    return re.findall(r"<entry>(.*?)</entry>", _wire_text(relative), re.S)


def _raw_items(relative: str) -> list[str]:
    return re.findall(r"<item>(.*?)</item>", _wire_text(relative), re.S)


def _element_text(block: str, tag: str) -> str:
    match = re.search(rf"<{tag}(?:\s[^>]*)?>(.*?)</{tag}>", block, re.S)
    return match[1] if match else ""


def _unversioned(raw_id: str) -> str:
    return re.sub(r"v\d+$", "", raw_id)


# -- arXiv API: parse ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        (API_MAX15, 15),
        (API_MAX100, 100),
        (API_EMPTY, 0),
        (API_TWO_IDS, 1),
        (API_TITLE_ZERO, 1),
        (API_OLD_STYLE_ID, 1),
        (API_OLD_FORMAT_ONE, 1),
        (API_OLD_FORMAT_TEN, 10),
    ],
)
def test_it_parses_every_entry_of_each_api_capture(relative: str, expected: int) -> None:
    result = arxiv_api.parse(fixture_bytes(relative))

    assert len(result.records) == expected == len(_raw_entries(relative))
    assert result.skipped == []
    assert {record.source for record in result.records} <= {"arxiv"}


@pytest.mark.parametrize("relative", API_GOOD)
def test_it_reads_ids_without_version_titles_abstracts_dates_in_feed_order(relative: str) -> None:
    records = arxiv_api.parse(fixture_bytes(relative)).records

    for record, entry in zip(records, _raw_entries(relative), strict=True):
        raw_id = fully_matched(r"https?://arxiv\.org/abs/(.+)", _element_text(entry, "id").strip())[
            1
        ]
        assert record.arxiv_id == _unversioned(raw_id)
        assert not re.search(r"v\d+$", record.arxiv_id)
        assert record.title == _xml_text(_element_text(entry, "title"))
        assert record.abstract == _xml_text(_element_text(entry, "summary"))
        published = dt.datetime.strptime(
            _element_text(entry, "published"), "%Y-%m-%dT%H:%M:%SZ"
        ).replace(tzinfo=dt.UTC)
        assert record.published_at == published


@pytest.mark.parametrize("relative", API_GOOD)
def test_it_keeps_authors_in_order_with_non_ascii_names_intact(relative: str) -> None:
    records = arxiv_api.parse(fixture_bytes(relative)).records

    for record, entry in zip(records, _raw_entries(relative), strict=True):
        names = re.findall(r"<author>\s*<name>(.*?)</name>", entry, re.S)
        assert list(record.authors) == [_xml_text(name) for name in names]


def test_it_reads_non_ascii_author_names_as_unicode_even_from_a_double_encoded_capture() -> None:
    raw = fixture_bytes(API_MAX100)
    authors = [name for record in arxiv_api.parse(raw).records for name in record.authors]

    assert (
        "Oliver WeiÃ\u009fl".encode() in raw
    )  # ß saved as Latin-1 mojibake, with a C1 control character
    assert "Oliver Weißl" in authors
    assert "Sólrún Einarsdóttir" in authors
    assert not any("Ã" in name for name in authors)


def test_it_leaves_a_correctly_encoded_body_alone() -> None:
    raw = fixture_bytes(API_TITLE_ZERO).replace(b"Quan Thoi Minh Nguyen", "Dirk Wübben".encode())

    (record,) = arxiv_api.parse(raw).records

    assert record.authors == ("Dirk Wübben",)


def test_it_keeps_unicode_in_formulas_and_titles() -> None:
    records = arxiv_api.parse(fixture_bytes(API_MAX100)).records

    assert any("$(π, 1-π)$" in record.abstract for record in records)
    assert any(record.title.startswith("$ω$Test: WebView-Oriented Testing") for record in records)


@pytest.mark.parametrize("relative", API_GOOD)
def test_it_lists_the_primary_category_first_then_the_others_once(relative: str) -> None:
    records = arxiv_api.parse(fixture_bytes(relative)).records

    for record, entry in zip(records, _raw_entries(relative), strict=True):
        primary = matched(r'<arxiv:primary_category[^>]*term="([^"]+)"', entry)[1]
        others = re.findall(r'<category term="([^"]+)"', entry)
        assert record.categories[0] == primary
        assert set(record.categories) == {primary, *others}
        assert len(record.categories) == len(set(record.categories))


def test_it_puts_the_primary_category_first_even_when_listed_later() -> None:
    # Real entry, with its primary category switched to the second of its two categories.
    raw = fixture_bytes(API_OLD_FORMAT_ONE).replace(
        b'primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cond-mat.str-el"',
        b'primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cond-mat.stat-mech"',
    )

    (record,) = arxiv_api.parse(raw).records

    assert record.categories == ("cond-mat.stat-mech", "cond-mat.str-el")


def test_it_keeps_old_style_ids() -> None:
    (record,) = arxiv_api.parse(fixture_bytes(API_OLD_STYLE_ID)).records

    assert record.arxiv_id == "astro-ph/0601001"
    assert record.categories == ("astro-ph",)


def test_it_accepts_a_title_of_zero_and_keeps_dollar_amounts() -> None:
    (record,) = arxiv_api.parse(fixture_bytes(API_TITLE_ZERO)).records

    assert record.arxiv_id == "2104.12255"
    assert record.title == "0"
    assert "$35,000" in record.abstract
    assert record.authors == ("Quan Thoi Minh Nguyen",)


def test_it_keeps_latex_verbatim() -> None:
    relative = API_MAX100
    records = arxiv_api.parse(fixture_bytes(relative)).records
    with_latex = [
        (record, entry)
        for record, entry in zip(records, _raw_entries(relative), strict=True)
        if re.search(r"\$[^$]+\$", _element_text(entry, "summary"))
    ]

    assert with_latex, "the capture has LaTeX in abstracts"
    for record, entry in with_latex:
        for formula in re.findall(r"\$[^$]+\$", _xml_text(_element_text(entry, "summary"))):
            assert formula in record.abstract


def test_it_unwraps_hard_wrapped_old_format_titles_and_abstracts() -> None:
    (record,) = arxiv_api.parse(fixture_bytes(API_OLD_FORMAT_ONE)).records

    assert b"Large\n  Connectivity" in fixture_bytes(API_OLD_FORMAT_ONE)
    assert record.title == (
        "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )
    assert "\n" not in record.abstract
    assert record.abstract.startswith(
        "Theoretical description of anisotropic systems, such as layered superconductors"
    )
    assert record.authors == ("James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic")
    assert record.categories == ("cond-mat.str-el", "cond-mat.stat-mech")


def test_it_returns_an_empty_result_for_zero_results() -> None:
    result = arxiv_api.parse(fixture_bytes(API_EMPTY))

    assert result.records == []
    assert result.skipped == []
    assert arxiv_api.total_results(fixture_bytes(API_EMPTY)) == 0


@pytest.mark.parametrize(
    ("relative", "pattern"),
    [
        (API_MAX15, rb"<opensearch:totalResults>(\d+)<"),
        (API_OLD_FORMAT_TEN, rb"<opensearch:totalResults[^>]*>(\d+)<"),
    ],
)
def test_it_reads_the_total_number_of_results_for_paging(relative: str, pattern: bytes) -> None:
    expected = int(matched(pattern, fixture_bytes(relative))[1])

    assert arxiv_api.total_results(fixture_bytes(relative)) == expected
    assert expected > len(arxiv_api.parse(fixture_bytes(relative)).records)


def test_it_turns_the_arxiv_error_feed_into_a_parse_error_with_its_message() -> None:
    with pytest.raises(ParseError, match=r"^arXiv API error: incorrect id format for abc$"):
        arxiv_api.parse(fixture_bytes(API_ERROR))


def test_it_skips_an_entry_without_valid_id_or_title_and_says_why() -> None:
    raw = fixture_bytes(API_MAX15)
    first_id = matched(rb"<entry>\s*<id>([^<]+)</id>", raw)[1]
    second_title = re.findall(rb"<title>([^<]+)</title>", raw)[2]  # [0] is the feed's own title
    raw = raw.replace(first_id, b"http://arxiv.org/abs/not-an-id", 1).replace(
        second_title, b"  ", 1
    )

    result = arxiv_api.parse(raw)

    assert len(result.records) == 13
    assert len(result.skipped) == 2
    assert "not-an-id" in result.skipped[0]
    assert "no title" in result.skipped[1]


# -- bad input, both parsers -----------------------------------------------------------------

PARSERS = [arxiv_api.parse, arxiv_rss.parse]


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("relative", [API_MAX15, RSS_ALL, RSS_ATOM])
def test_it_rejects_a_capture_cut_in_half(parse, relative: str) -> None:
    raw = fixture_bytes(relative)

    with pytest.raises(ParseError, match=r"^malformed XML: ") as error:
        parse(raw[: len(raw) // 2])
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_it_refuses_entity_bombs_and_external_entities(parse, hostile: bytes) -> None:
    with pytest.raises(ParseError, match="forbidden XML entity"):
        parse(hostile)


@pytest.mark.parametrize("parse", PARSERS)
def test_it_rejects_html_instead_of_xml(parse) -> None:
    with pytest.raises(ParseError):
        parse(fixture_bytes("hf_papers_html/papers_index_2024-08-01_raw.html"))


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("body", [b"", b"  \n\t "])
def test_it_rejects_an_empty_body(parse, body: bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse(body)


def test_the_api_parser_rejects_a_feed_that_is_not_atom() -> None:
    with pytest.raises(ParseError, match="not an Atom feed"):
        arxiv_api.parse(fixture_bytes(RSS_ALL))


def test_the_rss_parser_rejects_xml_that_is_no_feed() -> None:
    with pytest.raises(ParseError, match="not an RSS or Atom feed"):
        arxiv_rss.parse(b"<?xml version='1.0'?><note><to>you</to></note>")


# -- arXiv RSS 2.0 and Atom announcement feeds: parse ----------------------------------------


@pytest.mark.parametrize(("relative", "expected"), [(RSS_ALL, 659), (RSS_ATOM, 86), (RSS_EMPTY, 0)])
def test_it_parses_every_item_of_each_feed(relative: str, expected: int) -> None:
    result = arxiv_rss.parse(fixture_bytes(relative))

    assert (
        len(result.records) == expected == len(_raw_items(relative)) + len(_raw_entries(relative))
    )
    assert result.skipped == []
    assert {record.source for record in result.records} <= {"arxiv-rss"}


def test_an_empty_announcement_day_is_no_error() -> None:
    assert arxiv_rss.parse(fixture_bytes(RSS_EMPTY)).records == []


def test_the_error_feed_of_a_bad_archive_is_a_parse_error_with_its_text() -> None:
    description = _xml_text(_element_text(fixture_bytes(RSS_ERROR).decode(), "description"))
    assert description.startswith("Bad archive 'astroph'.")

    with pytest.raises(ParseError) as error:
        arxiv_rss.parse(fixture_bytes(RSS_ERROR))
    assert str(error.value) == f"arXiv RSS error: {description}"


def test_it_reads_rss_items_ids_titles_abstracts_and_categories() -> None:
    records = arxiv_rss.parse(fixture_bytes(RSS_ALL)).records

    for record, item in zip(records, _raw_items(RSS_ALL), strict=True):
        guid = fully_matched(r"oai:arXiv\.org:(.+)", _element_text(item, "guid"))[1]
        assert record.arxiv_id == _unversioned(guid)
        assert record.title == _xml_text(_element_text(item, "title"))
        abstract = _element_text(item, "description").partition("Abstract:")[2]
        assert record.abstract == _xml_text(abstract)
        assert not record.abstract.startswith("arXiv:")
        assert list(record.categories) == re.findall(r"<category>(.*?)</category>", item)


def test_it_reads_atom_entries_ids_titles_abstracts_and_categories_primary_first() -> None:
    records = arxiv_rss.parse(fixture_bytes(RSS_ATOM)).records

    for record, entry in zip(records, _raw_entries(RSS_ATOM), strict=True):
        assert record.arxiv_id == _unversioned(
            fully_matched(r"oai:arXiv\.org:(.+)", _element_text(entry, "id"))[1]
        )
        assert record.title == _xml_text(_element_text(entry, "title"))
        assert record.abstract == _xml_text(
            _element_text(entry, "summary").partition("Abstract:")[2]
        )
        assert "Announce Type" not in record.abstract
        assert list(record.categories) == re.findall(r'<category term="([^"]+)"/>', entry)
    cross = [
        record
        for record, entry in zip(records, _raw_entries(RSS_ATOM), strict=True)
        if ">cross<" in entry
    ]
    assert cross
    assert all(record.categories[0] != "cs.AI" for record in cross)


@pytest.mark.parametrize("relative", [RSS_ALL, RSS_ATOM])
def test_it_keeps_every_announce_type_but_dates_only_papers_new_that_day(relative: str) -> None:
    records = arxiv_rss.parse(fixture_bytes(relative)).records
    blocks = _raw_items(relative) + _raw_entries(relative)
    types = [_element_text(block, "arxiv:announce_type") for block in blocks]
    feed_day = dt.date.fromisoformat(relative.split("/")[1][:10])
    month_before = feed_day.replace(day=1) - dt.timedelta(days=1)
    old_crosses = 0

    assert len(records) == len(types)
    for record, announce_type, block in zip(records, types, blocks, strict=True):
        assert record.announce_type == announce_type
        submitted = dt.date(2000 + int(record.arxiv_id[:2]), int(record.arxiv_id[2:4]), 1)
        if announce_type == "new" or (announce_type == "cross" and submitted >= month_before):
            assert record.published_at is not None
            assert record.published_at.date() == feed_day
        elif announce_type == "cross":  # a cross-list of an old paper (2202.06515v3 in 2024)
            assert record.published_at is None
            old_crosses += 1
        else:
            assert announce_type.startswith("replace"), block[:200]
            assert record.published_at is None
    assert old_crosses == (2 if relative == RSS_ALL else 0)


def test_it_reads_the_rss_pubdate_as_utc() -> None:
    first = arxiv_rss.parse(fixture_bytes(RSS_ALL)).records[0]

    # <pubDate>Thu, 28 Nov 2024 00:00:00 -0500</pubDate>
    assert first.published_at == dt.datetime(2024, 11, 28, 5, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("relative", [RSS_ALL, RSS_ATOM])
def test_it_splits_plain_author_lists_on_commas_in_order(relative: str) -> None:
    records = arxiv_rss.parse(fixture_bytes(relative)).records
    blocks = _raw_items(relative) + _raw_entries(relative)
    plain = 0

    for record, block in zip(records, blocks, strict=True):
        creator = _xml_text(_element_text(block, "dc:creator"))
        if not re.search(r"[()\\{}]| and ", creator):
            assert list(record.authors) == [name.strip() for name in creator.split(",")]
            plain += 1
    assert plain > len(records) / 2


def test_it_drops_affiliations_even_when_they_contain_commas_and_and() -> None:
    by_id = {record.arxiv_id: record for record in arxiv_rss.parse(fixture_bytes(RSS_ALL)).records}

    assert by_id["2411.17935"].authors == (
        "Jadelynn Dao",
        "Ruixiao Liu",
        "Sarah Solomon",
        "Samuel Solomon",
    )
    araujo = next(
        record
        for record in by_id.values()
        if record.authors and record.authors[0] == "Aleteia Araujo"
    )
    assert araujo.authors == (
        "Aleteia Araujo",
        "Breno Costa",
        "Joao Bachiega Jr",
        "Leonardo R. Carvalho",
        "Rajkumar Buyya",
    )


def test_it_keeps_name_suffixes_with_their_name() -> None:
    rss = {record.arxiv_id: record for record in arxiv_rss.parse(fixture_bytes(RSS_ALL)).records}
    atom = {record.arxiv_id: record for record in arxiv_rss.parse(fixture_bytes(RSS_ATOM)).records}

    assert rss["2411.17856"].authors == ("Hongni Jin", "Kenneth M. Merz Jr")
    assert atom["2508.13187"].authors[0] == "Jonathan A. Karr Jr."
    assert arxiv_rss.split_authors("Kenneth M. Merz, Jr., Hongni Jin") == (
        "Kenneth M. Merz, Jr.",
        "Hongni Jin",
    )


def test_it_decodes_tex_accents_in_author_names() -> None:
    rss_names = {
        name
        for record in arxiv_rss.parse(fixture_bytes(RSS_ALL)).records
        for name in record.authors
    }
    atom_names = {
        name
        for record in arxiv_rss.parse(fixture_bytes(RSS_ATOM)).records
        for name in record.authors
    }

    assert rb"Andr\'es R. Vindas-Mel\'endez" in fixture_bytes(RSS_ALL)
    assert "Andrés R. Vindas-Meléndez" in rss_names
    assert rb"Anders S{\o}gaard" in fixture_bytes(RSS_ATOM)
    assert "Anders Søgaard" in atom_names
    assert not any("\\" in name or "{" in name for name in rss_names | atom_names)


@pytest.mark.parametrize(
    ("creator", "expected"),
    [
        ("Ada Lovelace and Charles Babbage", ("Ada Lovelace", "Charles Babbage")),
        ("A. One, B. Two, and C. Three", ("A. One", "B. Two", "C. Three")),
        ("Grace Hopper (Yale, Harvard and Navy), Alan Turing", ("Grace Hopper", "Alan Turing")),
        (r"Serdar Kad{\i}o\u{g}lu, \v{S}. \v Stimac", ("Serdar Kadıoğlu", "Š. Štimac")),
        ("Sandeep Anand", ("Sandeep Anand",)),
        ("", ()),
    ],
)
def test_it_splits_author_lists(creator: str, expected: tuple[str, ...]) -> None:
    assert arxiv_rss.split_authors(creator) == expected


# -- fetch -----------------------------------------------------------------------------------


def _sent_query(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


@responses.activate
def test_it_queries_a_category_and_date_window_newest_first_page_by_page() -> None:
    responses.get(arxiv_api.API_URL, body=fixture_bytes(API_MAX15))  # totalResults 214881

    pages = arxiv_api.fetch(
        HttpClient(retries=0),
        category="cs.CV",
        since=dt.date(2026, 4, 10),
        until=dt.date(2026, 4, 12),
        page_size=15,
        max_results=30,
    )

    assert [page.content for page in pages] == [fixture_bytes(API_MAX15)] * 2
    assert [_sent_query(call) for call in responses.calls] == [
        {
            "search_query": "cat:cs.CV AND submittedDate:[202604100000 TO 202604122359]",
            "sortBy": "submittedDate",
            "sortOrder": "descending",
            "start": str(start),
            "max_results": "15",
        }
        for start in (0, 15)
    ]


@responses.activate
def test_it_stops_paging_once_total_results_are_fetched() -> None:
    body = fixture_bytes(API_OLD_FORMAT_TEN)  # 10 entries a page, totalResults 31
    responses.get(arxiv_api.API_URL, body=body)

    pages = arxiv_api.fetch(HttpClient(retries=0), category="cond-mat.str-el", page_size=10)

    assert len(pages) == 4  # 0-9, 10-19, 20-29, 30
    assert [_sent_query(call)["start"] for call in responses.calls] == ["0", "10", "20", "30"]
    assert _sent_query(responses.calls[0])["search_query"] == "cat:cond-mat.str-el"


@responses.activate
def test_it_never_asks_for_more_than_max_results() -> None:
    responses.get(
        arxiv_api.API_URL, body=fixture_bytes(API_MAX100)
    )  # 100 entries, totalResults 214881

    arxiv_api.fetch(
        HttpClient(retries=0),
        since=dt.date(2026, 4, 12),
        until=dt.date(2026, 4, 12),
        page_size=100,
        max_results=150,
    )

    assert [
        (_sent_query(call)["start"], _sent_query(call)["max_results"]) for call in responses.calls
    ] == [
        ("0", "100"),
        ("100", "50"),
    ]
    assert (
        _sent_query(responses.calls[0])["search_query"]
        == "submittedDate:[202604120000 TO 202604122359]"
    )


@responses.activate
def test_it_makes_one_request_when_there_are_no_results() -> None:
    responses.get(arxiv_api.API_URL, body=fixture_bytes(API_EMPTY))

    pages = arxiv_api.fetch(HttpClient(retries=0), category="cs.CV", since=dt.date(2026, 4, 12))

    assert len(pages) == 1
    assert len(responses.calls) == 1
    assert arxiv_api.parse(pages[0].content).records == []


@responses.activate
def test_it_stops_on_a_page_without_entries_even_if_the_total_says_more() -> None:
    # arXiv sometimes serves an empty page in the middle of a result set; looping on it never ends.
    empty_page = fixture_bytes(API_EMPTY).replace(
        b"<opensearch:totalResults>0<", b"<opensearch:totalResults>5000<"
    )
    responses.get(arxiv_api.API_URL, body=empty_page)

    pages = arxiv_api.fetch(HttpClient(retries=0), category="cs.CV", page_size=100)

    assert len(pages) == 1


@responses.activate
def test_it_fetches_by_id_list() -> None:
    responses.get(arxiv_api.API_URL, body=fixture_bytes(API_TWO_IDS))

    pages = arxiv_api.fetch(HttpClient(retries=0), ids=["0808.05394", "1707.08567"])

    params = _sent_query(responses.calls[0])
    assert params["id_list"] == "0808.05394,1707.08567"
    assert "search_query" not in params
    assert [record.arxiv_id for record in arxiv_api.parse(pages[0].content).records] == [
        "1707.08567"
    ]


@responses.activate
def test_a_rejected_query_fails_the_fetch() -> None:
    responses.get(arxiv_api.API_URL, body=fixture_bytes(API_ERROR), status=400)

    with pytest.raises(FetchError, match="HTTP 400: arXiv API error: incorrect id format for abc"):
        arxiv_api.fetch(HttpClient(retries=0), ids=["abc"])


@responses.activate
def test_an_http_error_without_an_error_feed_keeps_the_status() -> None:
    responses.get(arxiv_api.API_URL, body=b"<html>Forbidden</html>", status=403)

    with pytest.raises(FetchError, match="HTTP 403"):
        arxiv_api.fetch(HttpClient(retries=0), ids=["2104.12255"])


def test_it_needs_something_to_search_for() -> None:
    with pytest.raises(ValueError, match="category, a date window or ids"):
        arxiv_api.fetch(HttpClient(retries=0))


def test_it_refuses_a_window_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match="after"):
        arxiv_api.search_query(since=dt.date(2026, 4, 12), until=dt.date(2026, 4, 1))


@responses.activate
@pytest.mark.parametrize("flavour", ["rss", "atom"])
def test_it_fetches_one_feed_for_all_categories(flavour: str) -> None:
    url = f"https://rss.arxiv.org/{flavour}/cs.CV+cs.CL"
    body = fixture_bytes(RSS_ALL if flavour == "rss" else RSS_ATOM)
    responses.get(url, body=body)

    pages = arxiv_rss.fetch(HttpClient(retries=0), categories=["cs.CV", "cs.CL"], flavour=flavour)

    assert len(responses.calls) == 1
    assert responses.calls[0].request.url == url
    assert [page.content for page in pages] == [body]


def test_it_refuses_an_unknown_flavour_or_no_categories() -> None:
    with pytest.raises(ValueError, match="flavour"):
        arxiv_rss.fetch(HttpClient(retries=0), categories=["cs.CV"], flavour="json")
    with pytest.raises(ValueError, match="category"):
        arxiv_rss.fetch(HttpClient(retries=0), categories=[])
