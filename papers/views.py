"""The public papers pages: a day ranked by trending, a week or month by votes; a paper; search."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date
from django.views.decorators.cache import cache_control, cache_page
from django.views.decorators.http import require_safe

from papers.models import Paper
from papers.search import search_authors_matched
from papers.selectors import (
    SEARCH_MAX_CHARS,
    paper_days_around,
    paper_get_visible,
    paper_latest_day,
    paper_list_trending,
    paper_metric_history,
    paper_search,
    paper_thumbnail_at,
    paper_thumbnail_get,
    papers_with_thumbnail,
    search_query_clean,
)

PAGE_SIZE = 50
SEARCH_PAGE_SIZE = 20
# A card lists this many authors and folds the rest into "+N" (templates/papers/_card.html).
CARD_AUTHORS = 3
_MAX_PAGE = 200
# Short enough that an editor's hide shows up quickly, long enough to absorb a burst.
_publicly_cacheable = cache_control(public=True, max_age=60)


def _server_cached(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Keep the page a minute on the server too, so one render serves every reader until then.

    The page is the same for everyone (no session, no form token); admin edits show within a minute.
    """
    cached_view = cache_page(60, key_prefix="pages")(view)

    @wraps(view)
    def cached_if_enabled(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return (cached_view if settings.PAPERBOY_PAGE_CACHE else view)(request, *args, **kwargs)

    return cached_if_enabled


@dataclass(frozen=True)
class Period:
    """A day, an ISO week or a month, with what the page needs to name and link it."""

    kind: str  # "day", "week", "month"
    start: dt.date
    end: dt.date

    @classmethod
    def containing(cls, kind: str, day: dt.date) -> Period:
        if kind == "week":
            monday = day - dt.timedelta(days=day.weekday())
            return cls("week", monday, monday + dt.timedelta(days=6))
        if kind == "month":
            last = calendar.monthrange(day.year, day.month)[1]
            return cls("month", day.replace(day=1), day.replace(day=last))
        return cls("day", day, day)

    @property
    def url(self) -> str:
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return reverse("papers:week", kwargs={"week": f"{year}-W{week:02d}"})
        if self.kind == "month":
            return reverse("papers:month", kwargs={"month": f"{self.start:%Y-%m}"})
        return reverse("papers:day", kwargs={"day": self.start.isoformat()})

    @property
    def label(self) -> str:
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return (
                f"Week {week}, {year} "
                f"({self.start:%b} {self.start.day} – {self.end:%b} {self.end.day})"
            )
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        return f"{self.start:%A}, {self.start:%B} {self.start.day}, {self.start.year}"


def _page_number(request: HttpRequest) -> int:
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        return 1
    return min(max(number, 1), _MAX_PAGE)


def _paper_day(paper: Paper) -> dt.date:
    """The day a listed paper belongs to, as the selectors define it."""
    if paper.hf_date:
        return paper.hf_date
    return paper.published_at.astimezone(dt.UTC).date() if paper.published_at else dt.date.min


def _period_listing(request: HttpRequest, period: Period, *, is_home: bool = False) -> HttpResponse:
    page = _page_number(request)
    offset = (page - 1) * PAGE_SIZE
    # One row more than the page tells whether there is a next page without a COUNT query.
    ranked = papers_with_thumbnail(papers=paper_list_trending(start=period.start, end=period.end))
    rows = list(ranked[offset : offset + PAGE_SIZE + 1])
    papers, has_more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    previous_day, next_day = paper_days_around(start=period.start, end=period.end)
    anchor = max((_paper_day(paper) for paper in papers), default=period.start)
    context = {
        "period": period,
        "papers": papers,
        "rank_offset": offset,
        "page": page,
        "has_more": has_more,
        "previous": Period.containing(period.kind, previous_day) if previous_day else None,
        "next": Period.containing(period.kind, next_day) if next_day else None,
        "tabs": [Period.containing(kind, anchor) for kind in ("day", "week", "month")],
        "is_home": is_home,
    }
    return render(request, "papers/list.html", context)


@require_safe
@_publicly_cacheable
@_server_cached
def home(request: HttpRequest) -> HttpResponse:
    """The latest day that has papers (the sample data is from 2025, not today)."""
    latest = paper_latest_day()
    if latest is None:
        return render(request, "papers/list.html", {"papers": [], "is_home": True, "period": None})
    return _period_listing(request, Period.containing("day", latest), is_home=True)


@require_safe
@_publicly_cacheable
@_server_cached
def day(request: HttpRequest, day: dt.date) -> HttpResponse:
    """One day's papers, ranked by trending."""
    return _period_listing(request, Period.containing("day", day))


@require_safe
@_publicly_cacheable
@_server_cached
def week(request: HttpRequest, week: dt.date) -> HttpResponse:
    """One ISO week's papers (Monday to Sunday), ranked by upvotes and recent growth."""
    return _period_listing(request, Period.containing("week", week))


@require_safe
@_publicly_cacheable
@_server_cached
def month(request: HttpRequest, month: dt.date) -> HttpResponse:
    """One month's papers, ranked by upvotes and recent growth."""
    return _period_listing(request, Period.containing("month", month))


@require_safe
@_publicly_cacheable
@_server_cached
def detail(request: HttpRequest, arxiv_id: str, version: int | None = None) -> HttpResponse:
    """One paper: abstract, authors, keywords, links and its upvote history."""
    if version is not None:
        # /papers/2104.12255v1/ names the same paper: one canonical page per arXiv id.
        return redirect("papers:detail", arxiv_id=arxiv_id, permanent=True)
    paper: Paper | None = paper_get_visible(arxiv_id=arxiv_id)
    if paper is None:
        raise Http404("No such paper")
    metrics = paper_metric_history(paper=paper)
    context = {
        "paper": paper,
        "metrics": metrics,
        "recent_metrics": metrics[::-1][:10],
        "thumbnail_at": paper_thumbnail_at(paper=paper),
        "day": Period.containing("day", paper.hf_date) if paper.hf_date else None,
    }
    return render(request, "papers/detail.html", context)


@require_safe
@_publicly_cacheable
def search(request: HttpRequest) -> HttpResponse:
    """Search titles, abstracts and authors, a page at a time; an empty query shows the prompt."""
    raw = request.GET.get("q", "")
    query = search_query_clean(raw)
    page = None
    results: list[tuple[Paper, list[str]]] = []
    if query:
        paginator = Paginator(
            papers_with_thumbnail(papers=paper_search(query=query)), SEARCH_PAGE_SIZE
        )
        page = paginator.page(_search_page_number(request.GET.get("page"), paginator.num_pages))
        results = [(paper, _hidden_authors_matched(paper, query)) for paper in page]
    context = {
        "query": query,
        "page": page,
        "results": results,
        "rank_offset": page.start_index() - 1 if page and results else 0,
        "truncated": len(" ".join(raw.split())) > SEARCH_MAX_CHARS,
        "max_chars": SEARCH_MAX_CHARS,
    }
    return render(request, "papers/search.html", context)


def _search_page_number(raw: str | None, last: int) -> int:
    """The page asked for; anything else (not a number, 0, past the last page) is page 1."""
    try:
        number = int(raw or "1")
    except ValueError:  # not a number, or more digits than int() takes
        return 1
    return number if 1 <= number <= last else 1


def _hidden_authors_matched(paper: Paper, query: str) -> list[str]:
    """The authors the query names that the card folds into "+N": the reader sees why it matched."""
    authors = paper.authors if isinstance(paper.authors, list) else []
    return search_authors_matched(query=query, authors=authors[CARD_AUTHORS:])


# A thumbnail's URL carries its version (?v=fetched_at): that URL never changes content.
_THUMBNAIL_MAX_AGE = 365 * 24 * 3600
_THUMBNAIL_UNVERSIONED_MAX_AGE = 24 * 3600


@require_safe
def thumbnail(request: HttpRequest, arxiv_id: str) -> HttpResponse:
    """The paper's thumbnail as fetched and stored by the worker; 404 when there is none."""
    stored = paper_thumbnail_get(arxiv_id=arxiv_id)
    if stored is None:
        raise Http404("No thumbnail")
    version = str(int(stored.fetched_at.timestamp()))  # as the templates' {{ …|date:'U' }}
    etag = f'"{stored.paper_id}-{version}"'
    last_modified = stored.fetched_at.timestamp()
    response = get_conditional_response(request, etag=etag, last_modified=int(last_modified))
    if response is None:
        response = HttpResponse(bytes(stored.data), content_type=stored.content_type)
        response["Last-Modified"] = http_date(last_modified)
    response["ETag"] = etag
    # The stored bytes were checked to be an image of this type: never let a browser guess.
    response["X-Content-Type-Options"] = "nosniff"
    versioned = request.GET.get("v") == version
    max_age = _THUMBNAIL_MAX_AGE if versioned else _THUMBNAIL_UNVERSIONED_MAX_AGE
    patch_cache_control(response, public=True, max_age=max_age)
    if versioned:
        patch_cache_control(response, immutable=True)
    return response
