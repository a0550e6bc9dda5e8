"""Hugging Face papers web pages, the fallback when the Daily Papers API fails.

The pages are Svelte apps that embed their data as JSON in `data-props` attributes; that JSON
has the API's item shape, so it goes through hf_api's mapping. When it is missing (a layout
change), the visible `<article>` cards still give ids, titles, upvotes and comment counts.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from bs4 import BeautifulSoup, Tag

from papers.sources import hf_api
from papers.sources.http import Fetched, HttpClient
from papers.sources.records import PaperRecord, ParseError, ParseResult
from papers.sources.text import arxiv_id_normalize, clean_text, parse_datetime, safe_url

PAPERS_URL = "https://huggingface.co/papers"
SOURCE = "hf-html"

_PAPER_HREF = re.compile(r"^(?:https://huggingface\.co)?/papers/(?P<id>[^/?#]+)$")
_COUNT = re.compile(r"\d+")


def fetch(client: HttpClient, *, date: dt.date | None = None) -> list[Fetched]:
    """The daily list of one day, or today's list without a date."""
    url = f"{PAPERS_URL}/date/{date.isoformat()}" if date is not None else PAPERS_URL
    fetched = client.get(url)
    return [fetched] if fetched is not None else []


def parse(raw: bytes) -> ParseResult:
    """Records of a daily list or single paper page; ParseError if the page has no papers at all."""
    soup = BeautifulSoup(raw or b"", "html.parser")
    result = _from_daily_list(soup)
    if result is None:
        result = _from_paper_page(soup)
    if result is None:
        result = _from_cards(soup)
    if result is None:
        raise ParseError("no papers found in HTML: not a Hugging Face papers page?")
    return result


def _hydration_props(soup: BeautifulSoup, target: str) -> dict[str, Any] | None:
    """The hydration JSON of the first `data-target` component that has a readable one."""
    for element in soup.find_all(None, {"data-target": target, "data-props": True}):
        try:
            props = json.loads(_attribute(element, "data-props"))
        except (ValueError, RecursionError):
            continue
        if isinstance(props, dict):
            return props
    return None


def _from_daily_list(soup: BeautifulSoup) -> ParseResult | None:
    props = _hydration_props(soup, "DailyPapers")
    if props is None or not isinstance(props.get("dailyPapers"), list):
        return None
    # An empty list is a real answer (a day nobody posted), not a broken page.
    page_date = parse_datetime(props["date"]) if isinstance(props.get("date"), str) else None
    return hf_api.parse_items(
        props["dailyPapers"], source=SOURCE, default_hf_date=page_date.date() if page_date else None
    )


def _from_paper_page(soup: BeautifulSoup) -> ParseResult | None:
    props = _hydration_props(soup, "PaperContent")
    if props is None or not isinstance(props.get("paper"), dict):
        return None
    paper = props["paper"]
    if paper.get("upvotes") is None:
        upvote_props = _hydration_props(soup, "UpvoteControl") or {}
        paper = {**paper, "upvotes": upvote_props.get("upvotes")}
    # The page holds the paper alone; the list-only fields (thumbnail, numComments) stay unknown.
    # The organization that posted it sits beside the paper, where a list item has its own.
    item = {"paper": paper, "organization": props.get("submitterOrganization")}
    return hf_api.parse_items([item], source=SOURCE)


def _from_cards(soup: BeautifulSoup) -> ParseResult | None:
    cards = [
        (article, raw_id)
        for article in soup.find_all("article")
        if (raw_id := _card_id(article)) is not None
    ]
    if not cards:
        return None
    result = ParseResult()
    seen: set[str] = set()
    for index, (article, raw_id) in enumerate(cards):
        record, reason = _card_record(article, raw_id)
        if record is None:
            result.skipped.append(f"card {index}: {reason}")
        elif record.arxiv_id in seen:
            result.skipped.append(f"card {index}: {record.arxiv_id} appears twice")
        else:
            seen.add(record.arxiv_id)
            result.records.append(record)
    return result


def _card_id(article: Tag) -> str | None:
    """The paper id a card links to; None for cards of something else (collections, models)."""
    for link in article.find_all("a", href=True):
        if match := _PAPER_HREF.match(_attribute(link, "href")):
            return match["id"]
    return None


def _card_record(article: Tag, raw_id: str) -> tuple[PaperRecord | None, str]:
    arxiv_id = arxiv_id_normalize(raw_id)
    if arxiv_id is None:
        return None, f"invalid arXiv id {raw_id!r}"
    # Several links point at the paper (thumbnail, title, author avatars); the title is the one
    # with text, and a heading holds it in every layout seen so far.
    links = [
        a for a in article.find_all("a", href=True) if _PAPER_HREF.match(_attribute(a, "href"))
    ]
    titled = [a for a in links if a.find_parent(["h1", "h2", "h3", "h4"])] + links
    title = next((text for text in (clean_text(a.get_text(" ")) for a in titled) if text), "")
    if not title:
        return None, f"{arxiv_id}: no title"
    comments_link = article.find("a", href=re.compile(r"#community$"))
    image = links[0].find("img") if links else None
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        source=SOURCE,
        upvotes=_card_upvotes(article, comments_link),
        num_comments=_parse_count(comments_link.get_text()) if comments_link else None,
        thumbnail=safe_url(_attribute(image, "src")) if image else "",
    ), ""


def _attribute(tag: Tag, name: str) -> str:
    """A single-valued attribute such as href or src ("" when absent).

    bs4 types every attribute as a string or a list, the list being for the multi-valued ones
    (class, rel); href and src are never lists.
    """
    value = tag.get(name)
    return value if isinstance(value, str) else ""


def _card_upvotes(article: Tag, comments_link: Tag | None) -> int | None:
    """The first bare number on the card that is not the comment count: the upvote counter."""
    for text in article.find_all(string=True):
        if comments_link is not None and any(parent is comments_link for parent in text.parents):
            continue
        if (count := _parse_count(text)) is not None:
            return count
    return None


def _parse_count(text: str) -> int | None:
    stripped = text.strip()
    return int(stripped) if _COUNT.fullmatch(stripped) else None
