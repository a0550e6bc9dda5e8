"""The one summary rule of cards, paper pages and emails, on real abstracts from the fixtures."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest

from papers.text import ELLIPSIS, SUMMARY_MAX_CHARS, summary_text, text_shorten
from tests.helpers import fixture_bytes

AUG_2023 = "hf_daily_papers/api_daily_papers_month-2023-08_sort-publishedAt_all-pages.json"
OCT_2024 = (
    "hf_daily_papers/api_daily_papers_month-2024-10_sort-publishedAt_limit100_p4-lastpage.json"
)
NOV_2025 = "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"


@dataclass
class Texts:
    ai_summary: str
    abstract: str


def _item(fixture: str, arxiv_id: str) -> dict:
    return next(
        i["paper"] for i in json.loads(fixture_bytes(fixture)) if i["paper"]["id"] == arxiv_id
    )


def _abstract(fixture: str, arxiv_id: str) -> str:
    return " ".join(_item(fixture, arxiv_id)["summary"].split())


def _all_abstracts() -> list[str]:
    return [
        " ".join(item["paper"]["summary"].split())
        for fixture in (AUG_2023, OCT_2024, NOV_2025)
        for item in json.loads(fixture_bytes(fixture))
        if item["paper"].get("summary")
    ]


def test_it_takes_the_ai_summary_whole_when_there_is_one() -> None:
    paper = _item(NOV_2025, "2511.07464")

    text = summary_text(paper=Texts(paper["ai_summary"], paper["summary"]))

    assert text == " ".join(paper["ai_summary"].split())
    assert not text.endswith(ELLIPSIS)


def test_every_ai_summary_of_a_month_fits_the_cap_uncut() -> None:
    summaries = [
        item["paper"]["ai_summary"]
        for item in json.loads(fixture_bytes(NOV_2025))
        if item["paper"].get("ai_summary")
    ]

    assert summaries
    for summary in summaries:
        assert summary_text(paper=Texts(summary, "an abstract")) == " ".join(summary.split())


def test_without_an_ai_summary_it_cuts_the_abstract_after_a_sentence() -> None:
    abstract = _abstract(AUG_2023, "2308.04079")  # 3D Gaussian Splatting, 1,400 characters

    text = summary_text(paper=Texts("", abstract))

    assert text == (
        "Radiance Field methods have recently revolutionized novel-view synthesis of scenes "
        "captured with multiple photos or videos. However, achieving high visual quality still "
        "requires neural networks that are costly to train and render, while recent faster "
        "methods inevitably trade off speed for quality."
    )
    assert len(text) <= SUMMARY_MAX_CHARS


def test_et_al_before_a_year_does_not_end_the_sentence() -> None:
    abstract = _abstract(AUG_2023, "2308.15560")  # "...proposed by Rasp et al. (2020), designed..."

    text = summary_text(paper=Texts("", abstract))

    assert "Rasp et al. (2020), designed" in text
    assert text.endswith("data-driven weather modeling.")


def test_e_g_and_i_e_do_not_end_sentences_even_before_a_capital() -> None:
    # "...(e.g. mix eggs) ... (e.g. crack eggs)? What if ... (e.g. making egg fried rice)?"
    actions = summary_text(paper=Texts("", _abstract(AUG_2023, "2307.16368")))
    # "...focuses on one type of action, i.e. BOLAA, where a controller..."
    bolaa = _abstract(AUG_2023, "2308.05960")

    start = bolaa.index("i.e. BOLAA") - 150
    cut = text_shorten(text=bolaa[start:], max_chars=150 + len("i.e. BOLAA") + 2)

    assert actions.endswith("(e.g. making egg fried rice)?")
    assert not cut.endswith("i.e.")
    assert cut.endswith("i.e. BOLAA" + ELLIPSIS)


def test_a_decimal_at_the_cap_is_not_a_sentence_end() -> None:
    abstract = _abstract(NOV_2025, "2511.07464")  # "...pre-trained on 5.5 trillion tokens..."
    cap = abstract.index("5.5 trillion") + len("5.")

    text = text_shorten(text=abstract, max_chars=cap)

    assert not text.endswith("5.")
    assert text.endswith("noise-control attention pathways.")


def test_vs_before_a_number_does_not_end_the_sentence() -> None:
    # "...AIME24 (80.3 vs. 79.8), AIME25 (74.4 vs. 70.0)..."
    abstract = _abstract(NOV_2025, "2511.06221")
    cap = abstract.index("vs. 79.8") + len("vs. 79.8") + 5

    text = text_shorten(text=abstract, max_chars=cap)

    assert not text.endswith("vs.")
    assert not text.endswith("80.3")


def test_etc_before_a_capital_ends_a_sentence() -> None:
    abstract = _abstract(AUG_2023, "2308.03280")  # "...surface reconstruction, etc. However, ..."

    text = text_shorten(text=abstract, max_chars=200)

    assert text.endswith("surface reconstruction, etc.")


def test_a_first_sentence_too_long_for_the_cap_is_cut_on_a_word_with_an_ellipsis() -> None:
    abstract = _abstract(AUG_2023, "2308.03793")  # one 279-character first sentence

    text = text_shorten(text=abstract, max_chars=120)

    assert text.endswith(ELLIPSIS)
    assert len(text) <= 120
    assert abstract.startswith(text[:-1])
    assert abstract[len(text[:-1])] in " ,"  # a whole word before the ellipsis


@pytest.mark.parametrize("cap", [80, 160, 200, SUMMARY_MAX_CHARS])
def test_no_real_abstract_is_cut_mid_word_or_past_the_cap(cap: int) -> None:
    for abstract in _all_abstracts():
        text = summary_text(paper=Texts("", abstract), max_chars=cap)

        assert len(text) <= cap
        if text == abstract:
            continue
        if text.endswith(ELLIPSIS):
            kept = text[: -len(ELLIPSIS)]
            assert abstract.startswith(kept)
            assert not re.match(r"\w", abstract[len(kept)]) or not kept[-1:].isalnum(), text
        else:
            assert abstract.startswith(text + " "), text
            assert text[-1] in '.?!)"”’]', text
            assert not re.search(r"(?:e\.g|i\.e|et al|vs|cf)\.$", text), text


def test_short_text_is_kept_whole_on_one_line_without_an_ellipsis() -> None:
    assert (
        summary_text(paper=Texts("  A short\n  summary.  ", "The abstract.")) == "A short summary."
    )
    assert summary_text(paper=Texts("", "An abstract\n\twrapped.")) == "An abstract wrapped."
    assert summary_text(paper=Texts("", "")) == ""


def test_one_endless_word_is_cut_hard() -> None:
    assert text_shorten(text="x" * 50, max_chars=10) == "x" * 9 + ELLIPSIS
