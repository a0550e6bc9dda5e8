"""The cleaning helpers every source parser shares."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest

from papers.sources.text import arxiv_id_normalize, clean_text, parse_datetime, safe_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2511.11793", "2511.11793"),
        ("2511.11793v2", "2511.11793"),
        ("arXiv:2511.11793v1", "2511.11793"),
        ("ARXIV:2511.11793", "2511.11793"),
        ("https://arxiv.org/abs/2511.11793v3", "2511.11793"),
        ("http://arxiv.org/abs/astro-ph/0601001v1", "astro-ph/0601001"),
        ("https://arxiv.org/pdf/2511.11793v1.pdf", "2511.11793"),
        ("https://export.arxiv.org/abs/2104.12255v1", "2104.12255"),
        ("oai:arXiv.org:2508.13456v1", "2508.13456"),
        ("astro-ph/0601001", "astro-ph/0601001"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("math.GT/0309136", "math.GT/0309136"),
        ("cond-mat.str-el/0601001", None),  # subject classes are two letters
        ("0704.0001", "0704.0001"),  # the first new-style id
        ("1111.2011v2", "1111.2011"),
        ("1501.00001", "1501.00001"),
        ("  2511.11793\n", "2511.11793"),
    ],
)
def test_it_normalizes_every_arxiv_id_spelling_to_the_bare_id(
    raw: str, expected: str | None
) -> None:
    assert arxiv_id_normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "0000.0000",  # what the arXiv API answers for an unknown id
        "2513.00001",  # month 13
        "0703.0001",  # new-style ids began in April 2007
        "1412.12345",  # five digits only from 2015
        "1501.0001",  # four digits only until 2014
        "2511.1179",
        "2511.117930",
        "astro-ph/060100",
        "astro-ph/0613001",  # month 13
        "https://example.org/abs/2511.11793",
        "2511.11793v",
        "javascript:2511.11793",
        None,
        12345,
    ],
)
def test_it_refuses_what_is_not_an_arxiv_id(raw: object) -> None:
    # Scraped JSON can hold anything in any field, so this passes types the annotation excludes.
    assert arxiv_id_normalize(raw) is None  # type: ignore[arg-type]


def test_it_puts_a_hard_wrapped_title_on_one_line() -> None:
    raw = "π_RL: Online RL Fine-tuning for Flow-based\n  Vision-Language-Action Models"
    assert (
        clean_text(raw)
        == "π_RL: Online RL Fine-tuning for Flow-based Vision-Language-Action Models"
    )


def test_it_strips_and_collapses_every_kind_of_whitespace() -> None:
    assert clean_text("  a\t\tb\r\n\u00a0c  \n") == "a b c"


def test_it_drops_control_characters() -> None:
    assert clean_text("Deep\x00 Learn\x1bing\x7f") == "Deep Learning"


def test_it_composes_unicode_to_nfc() -> None:
    decomposed = "Leimku\u0308hler"
    cleaned = clean_text(decomposed)
    assert cleaned == "Leimkühler"
    assert unicodedata.is_normalized("NFC", cleaned)


def test_it_keeps_latex_and_markup_characters_as_data() -> None:
    raw = r"Bounds on $\alpha$ & <b>$O(n^2)$</b> at 52.56\% pass@1"
    assert clean_text(raw) == raw


@pytest.mark.parametrize("raw", [None, "", "  \n "])
def test_it_turns_missing_text_into_an_empty_string(raw: str | None) -> None:
    assert clean_text(raw) == ""


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/kandinskylab/kandinsky-5",
        "http://example.org/project?x=1#top",
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2511.14993.png",
    ],
)
def test_it_keeps_absolute_http_urls(url: str) -> None:
    assert safe_url(url) == url
    assert safe_url(f"  {url}\n") == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.org/file",
        "//github.com/owner/repo",
        "/papers/2509.24002",
        "owner/repo",
        "https://",
        "https://exa mple.org/",
        "http://[::1",
        "",
        None,
        42,
    ],
)
def test_it_refuses_urls_that_are_not_absolute_http(url: object) -> None:
    # Scraped JSON can hold anything in any field, so this passes types the annotation excludes.
    assert safe_url(url) == ""  # type: ignore[arg-type]


def test_it_reads_iso_timestamps_as_aware_utc() -> None:
    assert parse_datetime("2025-11-19T00:23:22.000Z") == dt.datetime(
        2025, 11, 19, 0, 23, 22, tzinfo=dt.UTC
    )
    assert parse_datetime("2025-10-01T01:58:54.337Z") == dt.datetime(
        2025, 10, 1, 1, 58, 54, 337000, tzinfo=dt.UTC
    )


def test_it_converts_offsets_to_utc_and_takes_naive_times_as_utc() -> None:
    converted = parse_datetime("2024-11-28T00:00:00-05:00")
    assert converted == dt.datetime(2024, 11, 28, 5, tzinfo=dt.UTC)
    assert converted is not None
    assert converted.utcoffset() == dt.timedelta(0)
    assert parse_datetime("2025-02-13T19:07:06") == dt.datetime(
        2025, 2, 13, 19, 7, 6, tzinfo=dt.UTC
    )


@pytest.mark.parametrize("raw", [None, "", "yesterday", "2025-13-01T00:00:00Z", 1700000000])
def test_it_gives_none_for_unreadable_timestamps(raw: object) -> None:
    # Scraped JSON can hold anything in any field, so this passes types the annotation excludes.
    assert parse_datetime(raw) is None  # type: ignore[arg-type]
