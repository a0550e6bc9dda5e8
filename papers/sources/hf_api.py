"""Hugging Face Daily Papers JSON API: fetch the pages of a day, week or month, and parse them.

`GET https://huggingface.co/api/daily_papers?date=YYYY-MM-DD&limit=100&p=0` answers a JSON list
of items, each `{"paper": {...}, "title": ..., "numComments": ..., "thumbnail": ...}`. The item
mapping here is shared with the HTML fallback (hf_html), whose hydration JSON has the same shape.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from papers.sources.http import Fetched, HttpClient
from papers.sources.records import PaperRecord, ParseError, ParseResult
from papers.sources.text import arxiv_id_normalize, clean_text, parse_datetime, safe_url

API_URL = "https://huggingface.co/api/daily_papers"
MAX_PAGES = 50  # a month is about 1,000 papers: 10 pages; 50 only stops a runaway loop
MAX_LIMIT = 100  # the API does not return more than 100 items per page

# What a record keeps of the posting organization and of the attached media: a display name
# that fits Paper's column, a hub name a huggingface.co URL can hold, a few links of sane length.
MAX_ORGANIZATION = 200
MAX_ORGANIZATION_SLUG = 100
MAX_MEDIA_URLS = 10
MAX_MEDIA_URL = 500

_WEEK = re.compile(r"\d{4}-W\d{2}")
_MONTH = re.compile(r"\d{4}-\d{2}")
# An HF user or organization name, the one path segment of its page's URL.
_ORGANIZATION_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class _UnusableItemError(ValueError):
    """One item is unusable; the message says why."""


def fetch(
    client: HttpClient,
    *,
    date: dt.date | None = None,
    week: str | None = None,
    month: str | None = None,
    limit: int = MAX_LIMIT,
) -> list[Fetched]:
    """Every page of one day ("?date="), ISO week ("?week=2025-W47") or month ("?month=2025-11").

    Pages are requested until one holds fewer than `limit` items. A page the server reports
    unchanged (304) is left out and taken as full, since its length is unknown.
    """
    params = _period_params(date=date, week=week, month=month)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    pages: list[Fetched] = []
    for page in range(MAX_PAGES):
        fetched = client.get(API_URL, params={**params, "limit": limit, "p": page})
        if fetched is None:
            continue
        pages.append(fetched)
        if len(load_items(fetched.content)) < limit:
            break
    return pages


def _period_params(*, date: dt.date | None, week: str | None, month: str | None) -> dict[str, str]:
    given = [
        name
        for name, value in (("date", date), ("week", week), ("month", month))
        if value is not None
    ]
    if len(given) != 1:
        raise ValueError(
            f"give exactly one of date, week, month (got {', '.join(given) or 'none'})"
        )
    if date is not None:
        return {"date": date.isoformat()}
    if week is not None:
        if not _WEEK.fullmatch(week):
            raise ValueError(f"week must look like 2025-W47, got {week!r}")
        return {"week": week}
    assert month is not None
    if not _MONTH.fullmatch(month):
        raise ValueError(f"month must look like 2025-11, got {month!r}")
    return {"month": month}


def parse(raw: bytes) -> ParseResult:
    """Records of one API response body; ParseError if the body as a whole is unusable."""
    return parse_items(load_items(raw), source="hf")


def load_items(raw: bytes) -> list[Any]:
    """The JSON list of an API response; ParseError for empty, malformed or error bodies."""
    if not raw or not raw.strip():
        raise ParseError("empty response body")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ParseError(f"invalid JSON: {type(exc).__name__}") from exc
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and "error" in data:
        raise ParseError(f"API error: {clean_text(str(data['error']))[:200]}")
    if isinstance(data, dict):
        raise ParseError(
            f"expected a JSON list of papers, got an object with keys {sorted(data)[:10]}"
        )
    raise ParseError(
        f"expected a JSON list of papers, got {type(data).__name__ if data is not None else 'null'}"
    )


def parse_items(
    items: list[Any], *, source: str, default_hf_date: dt.date | None = None
) -> ParseResult:
    """Map Daily Papers items to records; an unusable item is skipped with its reason.

    `default_hf_date` is the listing's own day (the HTML page's date), used when an item does
    not say when it was on Daily Papers.
    """
    result = ParseResult()
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        try:
            record = item_record(item, source=source, default_hf_date=default_hf_date)
        except _UnusableItemError as exc:
            result.skipped.append(f"item {index}: {exc}")
            continue
        except (TypeError, KeyError, AttributeError, ValueError) as exc:  # a shape nobody foresaw
            result.skipped.append(f"item {index}: unexpected shape ({type(exc).__name__}: {exc})")
            continue
        if record.arxiv_id in seen:
            # One batch must not upsert the same row twice (PostgreSQL ON CONFLICT refuses it).
            result.skipped.append(
                f"item {index}: {record.arxiv_id} duplicates item {seen[record.arxiv_id]}"
            )
            continue
        seen[record.arxiv_id] = index
        result.records.append(record)
    return result


def item_record(item: Any, *, source: str, default_hf_date: dt.date | None = None) -> PaperRecord:
    """One Daily Papers item as a PaperRecord; _UnusableItemError says why it cannot be one."""
    if not isinstance(item, dict):
        raise _UnusableItemError(f"not an object but {type(item).__name__}")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise _UnusableItemError("no paper object")
    raw_id = paper.get("id")
    if raw_id is None or raw_id == "":
        raise _UnusableItemError("no arXiv id")
    arxiv_id = arxiv_id_normalize(raw_id) if isinstance(raw_id, str) else None
    if arxiv_id is None:
        raise _UnusableItemError(f"invalid arXiv id {raw_id!r}")
    try:
        return _record_build(arxiv_id, paper, item, source=source, default_hf_date=default_hf_date)
    except _UnusableItemError as exc:
        raise _UnusableItemError(f"{arxiv_id}: {exc}") from exc


def _record_build(
    arxiv_id: str, paper: dict, item: dict, *, source: str, default_hf_date: dt.date | None
) -> PaperRecord:
    title = clean_text(_string_field(paper, "title")) or clean_text(_string_field(item, "title"))
    if not title:
        raise _UnusableItemError("no title")
    organization, organization_slug = _organization(paper, item)
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        source=source,
        abstract=clean_text(_string_field(paper, "summary"))
        or clean_text(_string_field(item, "summary")),
        authors=_authors(paper.get("authors")),
        published_at=parse_datetime(_string_field(paper, "publishedAt")),
        hf_date=_hf_date(paper, item, default_hf_date),
        upvotes=_count_field(paper, "upvotes"),
        num_comments=_count_field(item, "numComments"),
        github_repo=safe_url(_string_field(paper, "githubRepo")),
        github_stars=_count_field(paper, "githubStars"),
        project_page=safe_url(_string_field(paper, "projectPage")),
        thumbnail=safe_url(_string_field(item, "thumbnail")),
        ai_summary=clean_text(_string_field(paper, "ai_summary")),
        ai_keywords=_keywords(paper.get("ai_keywords")),
        withdrawn_at=parse_datetime(_string_field(paper, "withdrawnAt")),
        organization=organization,
        organization_slug=organization_slug,
        # On the paper since 2025; the 2024 listings put them on the item.
        media_urls=_media_urls(paper.get("mediaUrls") or item.get("mediaUrls")),
    )


def _hf_date(paper: dict, item: dict, default: dt.date | None) -> dt.date | None:
    """The day the paper was on Daily Papers.

    `paper.submittedOnDailyAt` (midnight UTC of that day) is the answer. Items from before it
    existed (2024 and older listings) lack it; there the listing's own day is best, then the
    item's `publishedAt`, which in those listings was the moment it was submitted to the list.
    """
    submitted = parse_datetime(_string_field(paper, "submittedOnDailyAt"))
    if submitted is not None:
        return submitted.date()
    if default is not None:
        return default
    listed = parse_datetime(_string_field(item, "publishedAt"))
    return listed.date() if listed is not None else None


def _organization(paper: dict, item: dict) -> tuple[str, str]:
    """(display name, hub name) of the organization that posted the paper; ("", "") if none.

    The paper's own object first, then the item's (a single paper page has only the latter). A
    malformed one is left unknown instead of making the item unusable: it is an extra, and the
    paper is still worth having without it.
    """
    for found in (paper.get("organization"), item.get("organization")):
        if not isinstance(found, dict):
            continue
        slug = found.get("name")
        slug = slug.strip() if isinstance(slug, str) else ""
        if len(slug) > MAX_ORGANIZATION_SLUG or not _ORGANIZATION_SLUG.fullmatch(slug):
            slug = ""
        name = clean_text(found["fullname"]) if isinstance(found.get("fullname"), str) else ""
        name = (name if len(name) <= MAX_ORGANIZATION else "") or slug
        if name:
            return name, slug
    return "", ""


def _media_urls(value: Any) -> tuple[str, ...]:
    """The http(s) links among the paper's images and videos, each once, at most MAX_MEDIA_URLS.

    Lenient like _organization: anything that is not a list of links is left unknown.
    """
    if not isinstance(value, list):
        return ()
    urls = (safe_url(url) for url in value)
    return tuple(dict.fromkeys(url for url in urls if url and len(url) <= MAX_MEDIA_URL))[
        :MAX_MEDIA_URLS
    ]


def _authors(value: Any) -> tuple[str, ...]:
    # Authors flagged "hidden" still carry their name (the flag hides the link to an HF
    # account), and they are authors of the paper, so they keep their place in the order.
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _UnusableItemError(f"authors is not a list but {type(value).__name__}")
    names = (
        clean_text(a.get("name")) if isinstance(a, dict) and isinstance(a.get("name"), str) else ""
        for a in value
    )
    return tuple(name for name in names if name)


def _keywords(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _UnusableItemError(f"ai_keywords is not a list but {type(value).__name__}")
    return tuple(word for word in (clean_text(k) for k in value if isinstance(k, str)) if word)


def _string_field(obj: dict, key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _UnusableItemError(f"{key} is not a string: {value!r:.40}")
    return value


def _count_field(obj: dict, key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _UnusableItemError(f"{key} is not a count: {value!r:.40}")
    return value
