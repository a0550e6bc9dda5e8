"""What the 2026 sources carry beyond the paper: HF organization and media, arXiv comment and
journal reference, on the real captures.

Expectations are computed from the fixtures with json/re (never copied from parser output).
"""

from __future__ import annotations

import copy
import html
import json
import re
from typing import Any

import pytest

from papers.sources import arxiv_api, arxiv_rss, hf_api, hf_html
from papers.sources.records import PaperRecord
from tests.helpers import fixture_bytes

HF_2026 = "hf_daily_papers/api_daily_papers_date-2026-08-21_items-verbatim-reindented.json"
HF_OLDER = [
    "hf_daily_papers/api_daily_papers_month-2023-08_sort-publishedAt_all-pages.json",
    "hf_daily_papers/api_daily_papers_month-2024-10_sort-publishedAt_limit100_p4-lastpage.json",
    "hf_daily_papers/api_daily_papers_month-2025-09_sort-publishedAt_limit100_p5-lastpage.json",
    "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json",
    "hf_daily_papers/DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json",
]
INDEX_HTML = "hf_papers_html/papers_index_2024-08-01_raw.html"
PAPER_HTML = "hf_papers_html/paper_page_2509.24002_2025-10-01_bs4-prettified.html"
ARXIV_CL = "arxiv_atom/2026-09-24_api_query_cat-cs.CL_start0_max3.xml"
ARXIV_TESTING = "arxiv_atom/2026-04-12_api_query_search-testing_start50_max10_wire-bytes.xml"
ARXIV_QUANT = "arxiv_atom/2026-04-12_api_query_idlist-quant-ph_0201082v1_wire-bytes.xml"
ARXIV_CAPTURES = [
    ARXIV_CL,
    ARXIV_TESTING,
    ARXIV_QUANT,
    "arxiv_atom/2026-04-12_api_query_search-testing_start0_max100.xml",
    "arxiv_atom/2016-10-09_api_query_search-au-del_maestro_max10_OLD-FORMAT.xml",
]
RSS_2024 = "arxiv_rss/2024-11-28_rss_all-archives_TRUNCATED-659-of-1504-items.xml"

ENTRY = re.compile(r"<entry>(.*?)</entry>", re.DOTALL)


def _items(relative: str) -> list[dict[str, Any]]:
    return json.loads(fixture_bytes(relative))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _decoded(raw: bytes) -> str:
    """The text of a capture; the 2026-04-12 API captures saved as mojibake are undone first.

    (Those are UTF-8 bytes decoded as Latin-1 and saved again, see tests/fixtures/README.md.)
    """
    try:
        return raw.decode().encode("latin-1").decode()
    except UnicodeError:
        return raw.decode()


def _by_id(records: list[PaperRecord]) -> dict[str, PaperRecord]:
    return {record.arxiv_id: record for record in records}


def _xml_text(entry: str, tag: str) -> str:
    found = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", entry, re.DOTALL)
    return _one_line(html.unescape(found.group(1))) if found else ""


# --- Hugging Face: organization and media ----------------------------------------------------


def test_the_first_2026_item_was_posted_by_google() -> None:
    first = hf_api.parse(fixture_bytes(HF_2026)).records[0]

    assert (first.arxiv_id, first.organization, first.organization_slug) == (
        "2608.19880",
        "Google",
        "google",
    )


def test_it_reads_the_organization_and_media_of_every_2026_item() -> None:
    result = hf_api.parse(fixture_bytes(HF_2026))

    assert result.skipped == []
    items = _items(HF_2026)
    assert len(result.records) == len(items) == 17
    for item, record in zip(items, result.records, strict=True):
        organization = item["paper"]["organization"]
        assert record.organization == _one_line(organization["fullname"])
        assert record.organization_slug == organization["name"]
        assert record.media_urls == tuple(item["paper"].get("mediaUrls") or ())
    records = _by_id(result.records)
    # A display name typed with a double space comes out on one line, single-spaced.
    assert records["2608.18580"].organization == "university of science and technology of china"
    assert len(records["2608.20281"].media_urls) == 2


@pytest.mark.parametrize("relative", HF_OLDER)
def test_older_captures_still_parse_with_or_without_an_organization(relative: str) -> None:
    result = hf_api.parse(fixture_bytes(relative))

    assert result.skipped == []
    for item, record in zip(_items(relative), result.records, strict=True):
        organization = item["paper"].get("organization") or item.get("organization")
        assert record.organization == (_one_line(organization["fullname"]) if organization else "")
        assert record.organization_slug == (organization["name"] if organization else "")
        media = item["paper"].get("mediaUrls") or item.get("mediaUrls") or []
        assert record.media_urls == tuple(media)[: hf_api.MAX_MEDIA_URLS]
        assert (record.arxiv_comment, record.journal_ref) == ("", "")


def test_a_2024_listing_keeps_the_media_its_items_carry() -> None:
    raw = fixture_bytes(INDEX_HTML)
    video = re.search(rb"https://cdn-uploads\.huggingface\.co/[^&\"]+\.webm", raw)
    assert video is not None

    records = _by_id(hf_html.parse(raw).records)

    assert records["2407.20229"].media_urls == (video.group().decode(),)
    assert all(not record.organization for record in records.values())


def test_a_paper_page_takes_the_organization_that_submitted_it() -> None:
    raw = fixture_bytes(PAPER_HTML).decode()
    props = next(
        json.loads(html.unescape(double or single))
        for double, single in re.findall(r"""data-props=(?:"([^"]*)"|'([^']*)')""", raw)
        if "submitterOrganization" in html.unescape(double or single)
    )

    (record,) = hf_html.parse(raw.encode()).records

    assert record.organization == props["submitterOrganization"]["fullname"]
    assert record.organization_slug == props["submitterOrganization"]["name"]
    assert record.organization == "National University of Singapore"


@pytest.mark.parametrize(
    ("organization", "expected"),
    [
        (None, ("", "")),
        ("Google", ("", "")),
        ([{"name": "google"}], ("", "")),
        ({"name": "google"}, ("google", "google")),
        ({"fullname": "  Google\n DeepMind ", "name": None}, ("Google DeepMind", "")),
        ({"fullname": "Evil", "name": "../../settings"}, ("Evil", "")),
        ({"fullname": "Evil", "name": "javascript:alert(1)"}, ("Evil", "")),
        ({"fullname": "x" * 201, "name": "long"}, ("long", "long")),
        ({"fullname": "Lab", "name": "a" * 101}, ("Lab", "")),
        ({"fullname": 42, "name": 7}, ("", "")),
    ],
)
def test_a_missing_or_malformed_organization_is_unknown_and_the_paper_is_kept(
    organization: object, expected: tuple[str, str]
) -> None:
    item = copy.deepcopy(_items(HF_2026)[0])
    item["paper"]["organization"] = organization
    item["organization"] = organization

    result = hf_api.parse(json.dumps([item]).encode())

    assert result.skipped == []
    (record,) = result.records
    assert (record.organization, record.organization_slug) == expected
    assert record.title == item["paper"]["title"]


def test_the_item_organization_stands_in_when_the_paper_has_none() -> None:
    item = copy.deepcopy(_items(HF_2026)[0])
    del item["paper"]["organization"]

    (record,) = hf_api.parse(json.dumps([item]).encode()).records

    assert (record.organization, record.organization_slug) == ("Google", "google")


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        (None, ()),
        ("https://cdn.example/a.png", ()),
        ({"url": "https://cdn.example/a.png"}, ()),
        (
            [
                1,
                None,
                "javascript:alert(1)",
                "/relative.png",
                "data:image/png;base64,AAAA",
                "https://cdn.example/a.png",
                "https://cdn.example/a.png",
                "https://cdn.example/" + "x" * 500 + ".png",
                "http://cdn.example/b.mp4",
            ],
            ("https://cdn.example/a.png", "http://cdn.example/b.mp4"),
        ),
        (
            [f"https://cdn.example/{n}.png" for n in range(50)],
            tuple(f"https://cdn.example/{n}.png" for n in range(hf_api.MAX_MEDIA_URLS)),
        ),
    ],
)
def test_only_a_few_http_media_links_are_kept(media: object, expected: tuple[str, ...]) -> None:
    item = copy.deepcopy(_items(HF_2026)[2])  # 2608.20335, which has a video
    item["paper"]["mediaUrls"] = item["mediaUrls"] = media

    result = hf_api.parse(json.dumps([item]).encode())

    assert result.skipped == []
    assert result.records[0].media_urls == expected


# --- arXiv: comment and journal reference ----------------------------------------------------


@pytest.mark.parametrize("relative", ARXIV_CAPTURES)
def test_it_reads_every_comment_and_journal_ref_on_one_line(relative: str) -> None:
    raw = fixture_bytes(relative)
    entries = ENTRY.findall(_decoded(raw))

    records = arxiv_api.parse(raw).records

    assert len(records) == len(entries)
    with_comment = 0
    for entry, record in zip(entries, records, strict=True):
        comment = _xml_text(entry, "arxiv:comment")
        assert record.arxiv_comment == comment
        assert record.journal_ref == _xml_text(entry, "arxiv:journal_ref")
        with_comment += bool(comment)
    assert with_comment > 0


def test_the_2026_cs_cl_capture_has_a_venue_a_journal_ref_and_a_code_link() -> None:
    records = _by_id(arxiv_api.parse(fixture_bytes(ARXIV_CL)).records)

    clef = records["2609.28471"]
    assert clef.arxiv_comment == (
        "Published in the proceedings of CLEF 2026. Code: https://github.com/petekirby/contrastive-av"
    )
    assert clef.journal_ref.startswith("Experimental IR Meets Multilinguality")
    assert clef.journal_ref.endswith("LNCS 17087, pp. 92-102, Springer (2027)")
    assert clef.github_repo == "https://github.com/petekirby/contrastive-av"
    others = [record for arxiv_id, record in records.items() if arxiv_id != "2609.28471"]
    assert [(r.arxiv_comment, r.journal_ref, r.github_repo) for r in others] == [("", "", "")] * 2


def test_the_wire_bytes_captures_keep_their_names_and_comments() -> None:
    testing = arxiv_api.parse(fixture_bytes(ARXIV_TESTING)).records
    (quant,) = arxiv_api.parse(fixture_bytes(ARXIV_QUANT)).records

    assert any("Florian Kroiß" in record.authors for record in testing)
    assert quant.arxiv_comment == "32 pages"
    assert quant.journal_ref == ""
    ic2e = [record for record in testing if record.journal_ref]
    assert [record.journal_ref for record in ic2e] == [
        "2022 IEEE International Conference on Cloud Engineering (IC2E 2022)"
    ]


def test_a_long_hard_wrapped_comment_is_cut_on_a_word_on_one_line() -> None:
    raw = fixture_bytes(ARXIV_QUANT).decode()
    words = " \n   ".join(f"word{n:04d}" for n in range(600))  # about 5,000 characters
    raw = raw.replace(
        "<arxiv:comment>32 pages</arxiv:comment>", f"<arxiv:comment>{words}</arxiv:comment>"
    )
    raw = raw.replace(
        "</arxiv:comment>", f"</arxiv:comment><arxiv:journal_ref>{words}</arxiv:journal_ref>"
    )

    (record,) = arxiv_api.parse(raw.encode()).records

    assert len(record.arxiv_comment) <= arxiv_api.MAX_COMMENT
    assert len(record.journal_ref) <= arxiv_api.MAX_JOURNAL_REF
    for text in (record.arxiv_comment, record.journal_ref):
        assert "\n" not in text
        assert "  " not in text
        assert text.startswith("word0000 word0001")
        assert text.endswith("…")
        assert re.fullmatch(r"word\d{4}", text[:-1].split(" ")[-1])


@pytest.mark.parametrize(
    ("comment", "repo"),
    [
        (
            "Code: https://github.com/petekirby/contrastive-av",
            "https://github.com/petekirby/contrastive-av",
        ),
        ("code at github.com/Owner/Repo.git.", "https://github.com/Owner/Repo"),
        ("see https://www.github.com/a-b/c_d.e/tree/main (v2)", "https://github.com/a-b/c_d.e"),
        (
            "https://github.com/o/r and again https://github.com/O/R/",
            "https://github.com/o/r",
        ),
        ("ours: https://github.com/a/x, baseline: https://github.com/b/y", ""),
        ("12 pages, 3 figures", ""),
        ("https://notgithub.com/a/b", ""),
        ("https://gitlab.com/a/b", ""),
        ("https://github.com/onlyowner", ""),
    ],
)
def test_a_code_link_is_read_from_a_comment_naming_one_repository(comment: str, repo: str) -> None:
    assert arxiv_api.github_repo_in(comment) == repo


def test_the_rss_feed_gives_the_journal_reference_of_its_items() -> None:
    raw = fixture_bytes(RSS_2024)
    expected = {
        _one_line(html.unescape(ref))
        for ref in re.findall(
            r"<arxiv:journal_reference>(.*?)</arxiv:journal_reference>", raw.decode()
        )
    }

    records = arxiv_rss.parse(raw).records

    found = {record.journal_ref for record in records if record.journal_ref}
    assert found == expected
    assert sum(bool(record.journal_ref) for record in records) == raw.count(
        b"<arxiv:journal_reference>"
    )
    assert all(record.arxiv_comment == "" for record in records)
