"""The ingest merges the organization, media, comment and journal reference like the other
source fields: a source that does not know one never blanks it, and every change is counted."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from typing import Any

import pytest

from papers.ingest import papers_ingest
from papers.models import Paper, Source
from papers.sources import arxiv_api, hf_api
from papers.sources.records import PaperRecord
from tests.helpers import fixture_bytes

pytestmark = pytest.mark.django_db

HF_2026 = "hf_daily_papers/api_daily_papers_date-2026-08-21_items-verbatim-reindented.json"
ARXIV_CL = "arxiv_atom/2026-09-24_api_query_cat-cs.CL_start0_max3.xml"
T0 = dt.datetime(2026, 9, 24, 9, 0, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(hours=1)


def hf_record(arxiv_id: str = "2608.19880") -> PaperRecord:
    records = hf_api.parse(fixture_bytes(HF_2026)).records
    return next(record for record in records if record.arxiv_id == arxiv_id)


def clef_record() -> PaperRecord:
    records = arxiv_api.parse(fixture_bytes(ARXIV_CL)).records
    return next(record for record in records if record.arxiv_id == "2609.28471")


def counts_of(records: list[PaperRecord], now: dt.datetime) -> tuple[int, int, int]:
    counts = papers_ingest(records=records, fetch_run=None, now=now)
    return counts.created, counts.updated, counts.unchanged


def test_it_stores_what_the_2026_captures_carry() -> None:
    hf_records = hf_api.parse(fixture_bytes(HF_2026)).records
    arxiv_records = arxiv_api.parse(fixture_bytes(ARXIV_CL)).records

    assert counts_of([*hf_records, *arxiv_records], T0) == (20, 0, 0)

    google = Paper.objects.get(arxiv_id="2608.19880")
    assert (google.organization, google.organization_slug) == ("Google", "google")
    assert google.organization_url == "https://huggingface.co/google"
    baai = Paper.objects.get(arxiv_id="2608.20281")
    assert baai.media_urls == list(hf_record("2608.20281").media_urls)
    assert len(baai.media_urls) == 2
    clef = Paper.objects.get(arxiv_id="2609.28471")
    assert clef.arxiv_comment.startswith("Published in the proceedings of CLEF 2026.")
    assert clef.journal_ref.endswith("Springer (2027)")
    assert clef.github_repo == "https://github.com/petekirby/contrastive-av"


def test_a_later_source_without_them_never_blanks_them() -> None:
    hf, clef = hf_record("2608.20281"), clef_record()
    papers_ingest(records=[hf, clef], fetch_run=None, now=T0)

    bare_hf = replace(hf, organization="", organization_slug="", media_urls=())
    bare_arxiv = replace(clef, arxiv_comment="", journal_ref="", github_repo="")

    assert counts_of([bare_hf, bare_arxiv], LATER) == (0, 0, 2)
    baai = Paper.objects.get(arxiv_id=hf.arxiv_id)
    assert (baai.organization, baai.organization_slug) == (hf.organization, hf.organization_slug)
    assert baai.media_urls == list(hf.media_urls)
    stored = Paper.objects.get(arxiv_id=clef.arxiv_id)
    assert (stored.arxiv_comment, stored.journal_ref) == (clef.arxiv_comment, clef.journal_ref)
    assert stored.github_repo == clef.github_repo


def test_arxiv_seeing_an_hf_paper_keeps_its_organization_and_hf_seeing_it_keeps_the_comment() -> (
    None
):
    hf = hf_record()
    papers_ingest(records=[hf], fetch_run=None, now=T0)
    arxiv = PaperRecord(
        arxiv_id=hf.arxiv_id,
        title=hf.title,
        source=Source.ARXIV,
        arxiv_comment="Accepted at ICLR 2027. 12 pages",
    )

    assert counts_of([arxiv], LATER) == (0, 1, 0)
    assert counts_of([hf], LATER + dt.timedelta(hours=1)) == (0, 0, 1)

    paper = Paper.objects.get(arxiv_id=hf.arxiv_id)
    assert (paper.organization, paper.organization_slug) == ("Google", "google")
    assert paper.arxiv_comment == "Accepted at ICLR 2027. 12 pages"


def test_a_new_organization_replaces_the_name_and_its_hub_name_together() -> None:
    hf = hf_record()
    papers_ingest(records=[hf], fetch_run=None, now=T0)

    moved = replace(hf, organization="Google DeepMind", organization_slug="")

    assert counts_of([moved], LATER) == (0, 1, 0)
    paper = Paper.objects.get(arxiv_id=hf.arxiv_id)
    # The old hub name would link "Google DeepMind" to Google's page: it goes with its name.
    assert (paper.organization, paper.organization_slug) == ("Google DeepMind", "")
    assert paper.organization_url == ""


@pytest.mark.parametrize(
    "change",
    [
        {"arxiv_comment": "Accepted at ACL 2027"},
        {"journal_ref": "Springer (2028)"},
    ],
)
def test_a_changed_comment_or_journal_ref_is_an_update_and_the_same_again_is_not(
    change: dict[str, Any],
) -> None:
    clef = clef_record()
    assert counts_of([clef], T0) == (1, 0, 0)
    assert counts_of([clef], LATER) == (0, 0, 1)

    assert counts_of([replace(clef, **change)], LATER) == (0, 1, 0)

    paper = Paper.objects.get(arxiv_id=clef.arxiv_id)
    for name, value in change.items():
        assert getattr(paper, name) == value


def test_new_media_are_an_update() -> None:
    hf = hf_record("2608.20335")
    papers_ingest(records=[hf], fetch_run=None, now=T0)

    counts = counts_of([replace(hf, media_urls=("https://cdn.example/new.png",))], LATER)

    assert counts == (0, 1, 0)
    assert Paper.objects.get(arxiv_id=hf.arxiv_id).media_urls == ["https://cdn.example/new.png"]


def test_a_code_link_from_an_arxiv_comment_only_fills_an_empty_one() -> None:
    hf = hf_record()  # HF links google-research/envharness
    from_comment = PaperRecord(
        arxiv_id=hf.arxiv_id,
        title=hf.title,
        source=Source.ARXIV,
        github_repo="https://github.com/someone/else",
    )
    papers_ingest(records=[hf, from_comment], fetch_run=None, now=T0)
    assert Paper.objects.get(arxiv_id=hf.arxiv_id).github_repo == hf.github_repo

    clef = clef_record()  # no HF record: the comment's link is all there is
    papers_ingest(records=[clef], fetch_run=None, now=T0)
    assert Paper.objects.get(arxiv_id=clef.arxiv_id).github_repo == clef.github_repo

    # Hugging Face's own link, when it comes, wins over the one read from the comment.
    hf_link = PaperRecord(
        arxiv_id=clef.arxiv_id,
        title=clef.title,
        source=Source.HF,
        github_repo="https://github.com/petekirby/contrastive-av-official",
    )
    assert counts_of([hf_link], LATER) == (0, 1, 0)
    assert Paper.objects.get(arxiv_id=clef.arxiv_id).github_repo == hf_link.github_repo


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"organization": "x" * 201}, "organization is not a string of at most 200"),
        ({"organization_slug": "x" * 101}, "organization_slug is not a string of at most 100"),
        ({"organization": None}, "organization is not a string"),
        ({"arxiv_comment": "x" * 2001}, "arxiv_comment is not a string of at most 2000"),
        ({"journal_ref": 42}, "journal_ref is not a string"),
        ({"media_urls": "https://cdn.example/a.png"}, "media_urls is not a list"),
        ({"media_urls": ("javascript:alert(1)",)}, "media_urls holds something other than"),
        ({"media_urls": ("https://x/" + "y" * 500,)}, "media_urls holds something other than"),
        (
            {"media_urls": tuple(f"https://x/{n}.png" for n in range(21))},
            "media_urls is not a list of at most 20",
        ),
        ({"arxiv_comment": "pages\x00"}, "NUL character"),
        ({"organization": "Goo\x00gle"}, "NUL character"),
    ],
)
def test_an_unstorable_value_skips_the_record_and_stores_nothing(
    change: dict[str, Any], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = hf_record("2608.18580")
    bad = replace(hf_record(), **change)

    with caplog.at_level(logging.WARNING, logger="papers.ingest"):
        counts = papers_ingest(records=[bad, good], fetch_run=None, now=T0)

    assert (counts.created, counts.skipped) == (1, 1)
    assert list(Paper.objects.values_list("arxiv_id", flat=True)) == [good.arxiv_id]
    reasons = [vars(r)["reason"] for r in caplog.records if "record skipped" in r.getMessage()]
    assert len(reasons) == 1
    assert reason in reasons[0]
