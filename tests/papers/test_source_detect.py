"""Format detection for `fetch_papers --from-file`, on every captured response in tests/fixtures."""

from __future__ import annotations

import pytest

from papers.sources import arxiv_api, arxiv_rss, hf_api, hf_html
from papers.sources.detect import PARSERS, UNRECOGNIZED, detect_format
from papers.sources.records import ParseError
from tests.helpers import FIXTURES, fixture_bytes

# Each fixture directory holds the captures of one source.
FORMAT_OF_DIRECTORY = {
    "hf_daily_papers": "hf",
    "hf_papers_html": "hf-html",
    "arxiv_atom": "arxiv",
    "arxiv_rss": "arxiv-rss",
}
CAPTURES = sorted(
    path.relative_to(FIXTURES).as_posix()
    for path in FIXTURES.rglob("*")
    if path.is_file() and path.suffix != ".md"
)
ERROR_FEEDS = {
    "arxiv_atom/2026-04-12_api_query_idlist-abc_error-http400.xml",
    "arxiv_rss/2024-11-28_rss_astroph_ERROR-bad-archive.xml",
}


def test_every_fixture_directory_is_covered() -> None:
    assert {relative.split("/")[0] for relative in CAPTURES} == set(FORMAT_OF_DIRECTORY)
    assert len(CAPTURES) >= 20


@pytest.mark.parametrize("relative", CAPTURES)
def test_it_recognizes_every_capture(relative: str) -> None:
    assert detect_format(fixture_bytes(relative)) == FORMAT_OF_DIRECTORY[relative.split("/")[0]]


@pytest.mark.parametrize("relative", CAPTURES)
def test_it_sees_through_a_byte_order_mark_and_leading_whitespace(relative: str) -> None:
    raw = b"\xef\xbb\xbf \r\n\t" + fixture_bytes(relative)

    assert detect_format(raw) == FORMAT_OF_DIRECTORY[relative.split("/")[0]]


@pytest.mark.parametrize(
    "relative", [c for c in CAPTURES if c.startswith("arxiv") and c not in ERROR_FEEDS]
)
def test_the_parser_it_picks_reads_the_capture(relative: str) -> None:
    raw = fixture_bytes(relative)

    result = PARSERS[detect_format(raw)](raw)

    assert result.skipped == []
    assert len(result.records) == raw.count(b"<entry>") + raw.count(b"<item>")


def test_the_arxiv_parsers_also_read_a_file_with_a_bom_and_blank_lines() -> None:
    raw = b"\xef\xbb\xbf\n\n" + fixture_bytes(
        "arxiv_atom/2026-04-12_api_query_idlist-2104.12255v1_versioned-id.xml"
    )

    result = PARSERS[detect_format(raw)](raw)

    assert [record.title for record in result.records] == ["0"]


@pytest.mark.parametrize("relative", sorted(ERROR_FEEDS))
def test_an_error_feed_is_recognized_and_its_parser_reports_the_error(relative: str) -> None:
    raw = fixture_bytes(relative)

    with pytest.raises(ParseError, match="error"):
        PARSERS[detect_format(raw)](raw)


def test_each_format_maps_to_its_modules_parser() -> None:
    expected = {
        "hf": hf_api.parse,
        "hf-html": hf_html.parse,
        "arxiv": arxiv_api.parse,
        "arxiv-rss": arxiv_rss.parse,
    }

    assert expected == PARSERS


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b" \n\t ",
        b"\xef\xbb\xbf",
        b"hello, world",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"<html><head><title>Example Domain</title></head><body>not a paper</body></html>",
        b"<?xml version='1.0'?><note><to>you</to></note>",
        (
            b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            b"<title>a blog</title></feed>"
        ),
        (
            b"<?xml version='1.0'?><rss version='2.0'>"
            b"<channel><title>some podcast</title></channel></rss>"
        ),
    ],
    ids=[
        "empty",
        "blank",
        "bom-only",
        "text",
        "pdf",
        "png",
        "other-html",
        "other-xml",
        "other-atom",
        "other-rss",
    ],
)
def test_it_refuses_anything_else_with_one_clear_message(garbage: bytes) -> None:
    with pytest.raises(ParseError) as error:
        detect_format(garbage)

    assert str(error.value) == UNRECOGNIZED
    assert str(error.value) == (
        "unrecognized format: expected HF daily_papers JSON, HF papers HTML, "
        "arXiv Atom or arXiv RSS"
    )


def test_it_only_reads_the_head_of_a_large_file() -> None:
    # A 64 KiB head decides; what comes after (here: nothing that parses) is the parser's business.
    raw = fixture_bytes("arxiv_rss/2024-11-28_rss_all-archives_TRUNCATED-659-of-1504-items.xml")
    assert len(raw) > 1_000_000

    assert detect_format(raw[: len(raw) // 2]) == "arxiv-rss"


def test_an_abstract_mentioning_the_other_feed_does_not_fool_it() -> None:
    raw = fixture_bytes("arxiv_atom/2026-04-12_api_query_idlist-2104.12255v1_versioned-id.xml")
    raw = raw.replace(
        b"What is the funniest number",
        b"See http://rss.arxiv.org/atom/cs.CR. What is the funniest number",
    )

    assert detect_format(raw) == "arxiv"
