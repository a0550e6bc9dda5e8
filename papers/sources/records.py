"""The one shape every source parses into."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


class ParseError(ValueError):
    """The whole response is unusable (malformed, truncated, an error document, wrong shape)."""


@dataclass(frozen=True)
class PaperRecord:
    """One paper as a source saw it; empty strings / None mean "this source does not know"."""

    arxiv_id: str  # without version: "2511.11793", "astro-ph/0601001"
    title: str
    source: str  # "hf", "hf-html", "arxiv", "arxiv-rss"
    abstract: str = ""
    authors: tuple[str, ...] = ()
    published_at: dt.datetime | None = None
    hf_date: dt.date | None = None  # the day it appeared on HF Daily Papers
    upvotes: int | None = None
    num_comments: int | None = None
    github_repo: str = ""
    github_stars: int | None = None
    project_page: str = ""
    thumbnail: str = ""
    ai_summary: str = ""
    ai_keywords: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # primary first
    withdrawn_at: dt.datetime | None = None
    # arXiv RSS only: "new", "cross", "replace" or "replace-cross" ("" from other sources).
    announce_type: str = ""
    # Hugging Face: the organization that posted the paper, by display name ("Google") and hub
    # name ("google", for https://huggingface.co/google); they come and go together.
    organization: str = ""
    organization_slug: str = ""
    media_urls: tuple[str, ...] = ()  # images and videos attached to the paper page
    # arXiv: the authors' comment ("12 pages, accepted at …", code links) and journal reference.
    arxiv_comment: str = ""
    journal_ref: str = ""


@dataclass(frozen=True)
class ParseResult:
    """Records that parsed, and the ones skipped with the reason for each."""

    records: list[PaperRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
