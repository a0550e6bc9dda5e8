"""Feeds: the generators (Atom with its content, JSON Feed 1.1), their HTTP answer, and the public
feed of trending papers (the newest days, most upvoted first).

Django's syndication framework writes Atom (django.utils.feedgenerator.Atom1Feed); JSON Feed 1.1
(https://www.jsonfeed.org/version/1.1/) is a SyndicationFeed subclass here, so one list of items
feeds either format. The digest app builds its feeds (the issues, each reader's own) on these.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.feedgenerator import Atom1Feed, SyndicationFeed, rfc3339_date
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.cache import cache_control, cache_page
from django.views.decorators.http import require_safe

from papers.models import Paper
from papers.selectors import paper_list_feed
from papers.templatetags.papers_extras import external_url
from papers.text import summary_text

FEED_DAYS = 7  # the public papers feed: the newest days that have papers …
FEED_PER_DAY = 30  # … and at most this many of each, most upvoted first
AUTHORS_NAMED = 3
ATOM = "atom"
JSON = "json"
FORMATS = (ATOM, JSON)
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
JSON_FEED_CONTENT_TYPE = "application/feed+json; charset=utf-8"
PUBLIC_MAX_AGE = 60  # seconds; short enough that an editor's hide shows up quickly
# XML 1.0 cannot carry these (the Atom writer refuses them); scraped titles sometimes hold one.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def feed_text(text: str) -> str:
    """Text made safe for either format: no control characters, whitespace folded."""
    return " ".join(_CONTROL.sub("", text).split())


def tag_uri(*, day: dt.date, specific: str) -> str:
    """A stable entry id (RFC 4151 tag URI) on this site's host: never reused, never changed."""
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"tag:{host},{day:%Y-%m-%d}:{specific}"


def absolute(path: str) -> str:
    """An absolute URL on the public site."""
    return f"{settings.SITE_URL}{path}"


# --- The generators -------------------------------------------------------------------------------


class AtomFeed(Atom1Feed):
    """Atom 1.0 with each entry's full HTML in <content> (Django's writes only the summary)."""

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        if item.get("content_html"):
            handler.addQuickElement("content", item["content_html"], {"type": "html"})


class JsonFeed(SyndicationFeed):
    """JSON Feed 1.1 from the same items: summary as plain text, content as HTML and text.

    An item's `extension` (a dict) is written under "_paperboy", the format's way of adding fields.
    """

    content_type = JSON_FEED_CONTENT_TYPE

    def write(self, outfile: IO[str], encoding: str) -> None:
        outfile.write(json.dumps(self.document(), ensure_ascii=False, separators=(",", ":")))

    def document(self) -> dict[str, Any]:
        """The feed as JSON-ready data."""
        feed = self.feed
        document: dict[str, Any] = {
            "version": JSON_FEED_VERSION,
            "title": feed["title"],
            "home_page_url": feed["link"],
            "description": feed["description"],
            "language": feed["language"] or "en",
        }
        if feed["feed_url"]:
            document["feed_url"] = feed["feed_url"]
        if feed["author_name"]:
            document["authors"] = [{"name": feed["author_name"]}]
        document["items"] = [self._item(item) for item in self.items]
        return document

    @staticmethod
    def _item(item: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": item["unique_id"] or item["link"],
            "url": item["link"],
            "title": item["title"],
            "content_html": item.get("content_html") or html.escape(item.get("summary_text", "")),
            "content_text": item.get("content_text") or item.get("summary_text", ""),
        }
        if item.get("summary_text"):
            found["summary"] = item["summary_text"]
        if item["pubdate"] is not None:
            found["date_published"] = rfc3339_date(item["pubdate"])
        if item["updateddate"] is not None:
            found["date_modified"] = rfc3339_date(item["updateddate"])
        if item["author_name"]:
            found["authors"] = [{"name": item["author_name"]}]
        if item["categories"]:
            found["tags"] = list(item["categories"])
        if item.get("extension"):
            found["_paperboy"] = item["extension"]
        return found


@dataclass(frozen=True)
class FeedItem:
    """One entry, in terms both formats share."""

    id: str
    title: str
    url: str
    summary: str  # plain text
    content_html: str
    content_text: str
    published: dt.datetime
    updated: dt.datetime
    author: str = ""
    tags: Sequence[str] = ()
    extension: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedHead:
    """What a feed says of itself: its title, its page, its own address and a line about it."""

    title: str
    home_url: str
    feed_url: str
    description: str
    id: str


def feed_write(*, head: FeedHead, items: Sequence[FeedItem], fmt: str) -> str:
    """The feed as Atom or JSON Feed text."""
    generator = (AtomFeed if fmt == ATOM else JsonFeed)(
        title=head.title,
        link=head.home_url,
        description=head.description,
        subtitle=head.description,
        language="en",
        author_name="Paperboy",
        feed_url=head.feed_url,
        feed_guid=head.id,
    )
    for item in items:
        generator.add_item(
            title=item.title,
            link=item.url,
            # Atom's <summary type="html">: the plain summary, escaped once.
            description=html.escape(item.summary),
            unique_id=item.id,
            pubdate=item.published,
            updateddate=item.updated,
            author_name=item.author or None,
            categories=list(item.tags),
            content_html=item.content_html,
            content_text=item.content_text,
            summary_text=item.summary,
            extension=item.extension,
        )
    return str(generator.writeString("utf-8"))


def content_type_of(fmt: str) -> str:
    """The Content-Type of a feed in this format."""
    return AtomFeed.content_type if fmt == ATOM else JSON_FEED_CONTENT_TYPE


# --- The HTTP answer ------------------------------------------------------------------------------


def feed_etag(body: str) -> str:
    """The feed's strong ETag: its body's hash, so it changes exactly when the bytes do."""
    return f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'


def feed_http(
    *, body: str, fmt: str, last_modified: dt.datetime | None, etag: str | None = None
) -> HttpResponse:
    """The feed's 200 response, with its validators: ETag (feed_etag) and Last-Modified.

    Never a 304 itself: a server-side cache may keep this response for every client, so the
    client's validators are checked after it (feed_conditional).
    """
    response = HttpResponse(body, content_type=content_type_of(fmt))
    response["ETag"] = etag or feed_etag(body)
    if last_modified is not None:
        response["Last-Modified"] = http_date(int(last_modified.timestamp()))
    # Feeds are data, never pages to sniff and render.
    response["X-Content-Type-Options"] = "nosniff"
    return response


def feed_conditional(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """304 when the client's copy is current (If-None-Match first, else If-Modified-Since)."""
    if response.status_code != 200:
        return response
    last_modified = parse_http_date_safe(response.get("Last-Modified", ""))
    answer = get_conditional_response(
        request, etag=response.get("ETag"), last_modified=last_modified, response=response
    )
    return answer if answer is not None else response


def conditional(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """feed_conditional around a view (outside its server cache, which only keeps 200s)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return feed_conditional(request, view(request, *args, **kwargs))

    return wrapper


def server_cached(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A public feed kept a minute on the server, as the pages are (cache_page, "pages" prefix).

    Only its 200 is kept (feed_http never answers 304); PAPERBOY_PAGE_CACHE off skips it.
    """
    cached_view = cache_page(PUBLIC_MAX_AGE, key_prefix="pages")(view)

    @wraps(view)
    def cached_if_enabled(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return (cached_view if settings.PAPERBOY_PAGE_CACHE else view)(request, *args, **kwargs)

    return cached_if_enabled


# The same for everyone: caches may keep a public feed a minute, as the pages (papers.views).
publicly_cacheable = cache_control(public=True, max_age=PUBLIC_MAX_AGE)


# --- The public feed of trending papers -----------------------------------------------------------


def _authors(paper: Paper) -> str:
    names = [feed_text(str(name)) for name in paper.authors or [] if str(name).strip()]
    shown = ", ".join(names[:AUTHORS_NAMED])
    return f"{shown} et al." if len(names) > AUTHORS_NAMED else shown


def paper_links_html(paper: Paper) -> str:
    """The paper's outside links (arXiv, PDF, code, project page), as an HTML line."""
    links = [("arXiv", paper.abs_url), ("PDF", paper.pdf_url), ("Code", paper.github_repo)]
    links.append(("Project page", paper.project_page))
    shown = [(label, url) for label, raw in links if (url := external_url(raw))]
    return " · ".join(f'<a href="{html.escape(url)}">{label}</a>' for label, url in shown)


def _paper_item(paper: Paper) -> FeedItem:
    day = paper.hf_date or paper.first_seen_at.date()
    url = absolute(reverse("papers:detail", kwargs={"arxiv_id": paper.arxiv_id}))
    summary = feed_text(summary_text(paper=paper))
    votes = f"▲ {paper.upvotes} upvote{'' if paper.upvotes == 1 else 's'}"
    label = f"{day:%A}, {day.day} {day:%B %Y}"
    content_html = (
        f"<p>{html.escape(summary)}</p>"
        f"<p>{votes} · trending on {html.escape(label)}</p>"
        f"<p>{paper_links_html(paper)}</p>"
    )
    return FeedItem(
        id=tag_uri(day=day, specific=f"paper:{paper.arxiv_id}"),
        title=feed_text(paper.title),
        url=url,
        summary=summary,
        content_html=content_html,
        content_text=f"{summary}\n\n{votes} · trending on {label}\n{url}",
        published=paper.first_seen_at,
        updated=paper.first_seen_at,
        author=_authors(paper),
        tags=[f"{day:%Y-%m-%d}"],
        extension={"arxiv_id": paper.arxiv_id, "day": f"{day:%Y-%m-%d}"},
    )


def papers_feed_build(
    *, fmt: str, now: dt.datetime | None = None
) -> tuple[str, dt.datetime | None]:
    """The trending papers feed (body, last modified): the newest days, most upvoted first."""
    papers = paper_list_feed(days=FEED_DAYS, per_day=FEED_PER_DAY, now=now)
    name = "feed-atom" if fmt == ATOM else "feed-json"
    head = FeedHead(
        title="Paperboy: trending ML papers",
        home_url=absolute(reverse("papers:home")),
        feed_url=absolute(reverse(f"papers:{name}")),
        description=(
            f"The most upvoted papers of each of the last {FEED_DAYS} days on Hugging Face "
            "Daily Papers, newest day first."
        ),
        id=tag_uri(day=dt.date(2026, 1, 1), specific="papers"),
    )
    body = feed_write(head=head, items=[_paper_item(paper) for paper in papers], fmt=fmt)
    last_modified = max((paper.updated_at for paper in papers), default=None)
    return body, last_modified


@require_safe
@publicly_cacheable
@conditional
@server_cached
def feed(request: HttpRequest, fmt: str = ATOM) -> HttpResponse:
    """The public feed of trending papers (Atom or JSON Feed), newest day first."""
    if fmt not in FORMATS:
        raise Http404("No such feed.")
    body, last_modified = papers_feed_build(fmt=fmt)
    return feed_http(body=body, fmt=fmt, last_modified=last_modified)
