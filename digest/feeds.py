"""The digest's feeds: each reader's private feed of their own papers, and the published issues.

A reader's feed holds what their SENT deliveries of the last 30 days gave them, newest first: one
entry per paper per delivery, with the email's title, summary and reason, the paper's page on
this site, and the delivery's "More like this" / "Less like this" links; and one entry per
"code is now available" notice. Its address carries the reader's feed key (Subscriber.feed_key),
which the manage page makes and replaces; any key that opens nothing gets the same 404.

The private feed is never kept by a shared cache (Cache-Control: private); the server keeps its
body a few minutes in the low-level cache, keyed by what it shows (the reader's key and address,
their latest delivery), so a feed reader's polling costs one small query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_safe

from digest.models import Delivery, DeliveryStatus, Issue, IssueHide, IssueKind, IssuePin
from digest.render import issue_view_url
from digest.selectors import issue_list_published
from digest.votes import VOTE_LESS, VOTE_MORE, vote_tokens_make
from papers.feeds import (
    ATOM,
    FORMATS,
    FeedHead,
    FeedItem,
    conditional,
    feed_conditional,
    feed_etag,
    feed_http,
    feed_text,
    feed_write,
    paper_links_html,
    publicly_cacheable,
    server_cached,
    tag_uri,
)
from papers.models import Paper
from papers.templatetags.papers_extras import external_url
from papers.text import summary_text
from subscriptions.emails import site_url
from subscriptions.models import Subscriber
from subscriptions.selectors import (
    FEED_KEY_PATTERN,
    FEED_LOOKUP_SECONDS,
    FEED_READABLE,
    feed_lookup_cache_key,
)

FEED_WINDOW = dt.timedelta(days=30)
FEED_MAX_ENTRIES = 500  # 30 daily digests of the largest size, and their notices
FEED_CACHE_SECONDS = 10 * 60
ISSUES_IN_FEED = 30
ISSUE_PAPERS_NAMED = 5
# The day the feeds' tag URIs were first minted: a feed's id must never change.
_FEED_ID_DAY = dt.date(2026, 11, 30)
# Said the same, byte for byte, for a key that never existed, a replaced one, and a reader who
# left: the answer tells nothing about whether anyone is behind it.
NOT_FOUND_BODY = "No feed here.\n"


def _not_found() -> HttpResponse:
    response = HttpResponseNotFound(NOT_FOUND_BODY, content_type="text/plain; charset=utf-8")
    patch_cache_control(response, private=True, no_store=True)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- The reader's private feed --------------------------------------------------------------------


@dataclass(frozen=True)
class _FeedState:
    """What the reader's feed shows, in one query: it keys the cached body."""

    last_id: int | None
    count: int
    changed: dt.datetime | None
    newest: dt.datetime | None


def _sent_in_window(subscriber_id: int, now: dt.datetime) -> QuerySet[Delivery]:
    """The reader's deliveries the feed shows: sent, in the last 30 days."""
    return Delivery.objects.filter(
        subscriber_id=subscriber_id, status=DeliveryStatus.SENT, sent_at__gte=now - FEED_WINDOW
    )


@dataclass(frozen=True)
class FeedReader:
    """The reader a feed key opens, with what their feed needs of them."""

    pk: int
    email: str
    feed_key: str
    since: dt.datetime  # when their subscription began: an empty feed's Last-Modified


# The reader and their feed's state in one statement. Written out, not built by the ORM: this is
# every poll of every feed reader, and compiling the equivalent queryset (a filtered join, four
# aggregates) cost 2.6 ms of CPU a request where the statement itself takes 0.7 ms (measured on
# PostgreSQL, bench/web_load.py's data); the feed's p99 follows CPU on a two-core server.
# `feed_key <> ''` repeats the unique index's condition, so that the index serves the lookup
# even in the generic plan psycopg's prepared statement gets after a few executions.
_READER_SQL = """
SELECT s.id, s.email, s.feed_key, s.confirmed_at,
       MAX(d.id), COUNT(d.id), MAX(d.updated_at), MAX(d.sent_at)
FROM {subscriber} s
LEFT JOIN {delivery} d ON d.subscriber_id = s.id AND d.status = %s AND d.sent_at >= %s
WHERE s.feed_key = %s AND s.feed_key <> '' AND s.status IN (%s, %s)
  AND s.confirmed_at IS NOT NULL AND s.via <> %s
GROUP BY s.id
"""


def _reader_find(key: str, now: dt.datetime) -> tuple[FeedReader, _FeedState] | None:
    """The reader this key opens (confirmed, active or paused) and their feed's state; None for
    any miss. A key that does not look like one is never looked up."""
    if not FEED_KEY_PATTERN.fullmatch(key):
        return None
    quote = connection.ops.quote_name
    sql = _READER_SQL.format(
        subscriber=quote(Subscriber._meta.db_table), delivery=quote(Delivery._meta.db_table)
    )
    since = connection.ops.adapt_datetimefield_value(now - FEED_WINDOW)
    params = [DeliveryStatus.SENT.value, since, key, *FEED_READABLE, Subscriber.Via.CHANNEL.value]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    pk, email, feed_key, confirmed_at, last, count, changed, newest = row
    reader = FeedReader(pk, email, feed_key, _as_datetime(confirmed_at) or now)
    return reader, _FeedState(last, count, _as_datetime(changed), _as_datetime(newest))


def _reader_lookup(key: str, now: dt.datetime) -> tuple[FeedReader, _FeedState] | None:
    """_reader_find, kept FEED_LOOKUP_SECONDS in the cache: a poll then costs no query.

    Only what a key opens is kept, never a miss: a stream of forged keys fills no cache.
    """
    if not FEED_KEY_PATTERN.fullmatch(key):
        return None
    cache_key = feed_lookup_cache_key(key)
    found: tuple[FeedReader, _FeedState] | None = cache.get(cache_key)
    if found is None:
        found = _reader_find(key, now)
        if found is not None:
            cache.set(cache_key, found, FEED_LOOKUP_SECONDS)
    return found


def _as_datetime(value: object) -> dt.datetime | None:
    """A timestamp as the database gave it (SQLite: UTC text for an aggregate), made aware."""
    if value is None:
        return None
    found = value if isinstance(value, dt.datetime) else parse_datetime(str(value))
    if found is None:
        return None
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)


def _cache_key(subscriber: FeedReader, state: _FeedState, fmt: str) -> str:
    # The address is in it because the vote links are bound to it; the key, because a replaced
    # key's body must never answer again.
    parts = [
        subscriber.feed_key,
        subscriber.email,
        str(state),
        str(settings.PAPERBOY_VOTE_LINKS),
        settings.SITE_URL,
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"digest:feed:{fmt}:{digest}"


class _VoteLinks:
    """Each paper's "More like this" / "Less like this" URLs, reversed once per feed."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._more = self._url(VOTE_MORE).split("T0KEN")
        self._less = self._url(VOTE_LESS).split("T0KEN")

    @staticmethod
    def _url(direction: str) -> str:
        return site_url(reverse("digest:vote", kwargs={"token": "T0KEN", "direction": direction}))

    def for_delivery(
        self, delivery_id: int, arxiv_ids: Sequence[str]
    ) -> dict[str, tuple[str, str]]:
        if not settings.PAPERBOY_VOTE_LINKS or not arxiv_ids:
            return {}
        tokens = vote_tokens_make(
            delivery_id=delivery_id, arxiv_ids=arxiv_ids, address=self.address
        )
        return {
            arxiv_id: (self._more[0] + token + self._more[1], self._less[0] + token + self._less[1])
            for arxiv_id, token in zip(arxiv_ids, tokens, strict=True)
        }


@dataclass(frozen=True)
class _Sent:
    """One sent delivery, as the feed reads it."""

    pk: int
    sent_at: dt.datetime
    papers: list[str]
    reasons: list[str]
    notices: list[str]


def _sent_list(subscriber: FeedReader, now: dt.datetime) -> list[_Sent]:
    rows = (
        _sent_in_window(subscriber.pk, now)
        .order_by("-sent_at", "-pk")
        .values_list("pk", "sent_at", "papers", "reasons", "notices")
    )
    return [
        _Sent(pk, sent_at, _texts(papers), _texts(reasons), _texts(notices))
        for pk, sent_at, papers, reasons, notices in rows
        if sent_at is not None  # always set in the window; the type does not know it
    ]


def _texts(value: object) -> list[str]:
    """A JSON column's list of strings as the ledger writes it; anything else reads as ""."""
    # Kept in place, so a paper and its reason stay side by side.
    return [v if isinstance(v, str) else "" for v in value] if isinstance(value, list) else []


def _shown_papers(arxiv_ids: set[str]) -> dict[str, Paper]:
    """The papers entries may name (an editor's hidden one is left out), in one query."""
    papers = Paper.objects.filter(arxiv_id__in=arxiv_ids, hidden=False).only(
        "arxiv_id",
        "title",
        "ai_summary",
        "abstract",
        "github_repo",
        "github_stars",
        "project_page",
        "authors",
    )
    return {paper.arxiv_id: paper for paper in papers}


def _paper_url(arxiv_id: str) -> str:
    return site_url(reverse("papers:detail", kwargs={"arxiv_id": arxiv_id}))


def _pick_item(sent: _Sent, paper: Paper, reason: str, votes: tuple[str, str] | None) -> FeedItem:
    """A paper of a delivery, as its email showed it: title, reason, summary, links, votes."""
    url = _paper_url(paper.arxiv_id)
    summary, reason = feed_text(summary_text(paper=paper)), feed_text(reason)
    parts_html = [f"<p><em>{html.escape(reason)}</em></p>"] if reason else []
    parts_text = [reason] if reason else []
    parts_html += [f"<p>{html.escape(summary)}</p>", f"<p>{paper_links_html(paper)}</p>"]
    parts_text += [summary, url]
    extension = {"kind": "paper", "arxiv_id": paper.arxiv_id, "delivery": str(sent.pk)}
    if reason:
        extension["reason"] = reason
    if votes:
        more, less = (html.escape(v) for v in votes)
        parts_html.append(
            f'<p><a href="{more}">More like this</a> · <a href="{less}">Less like this</a></p>'
        )
        parts_text.append(f"More like this: {votes[0]}\nLess like this: {votes[1]}")
        extension.update(more_like_this=votes[0], less_like_this=votes[1])
    return FeedItem(
        id=tag_uri(day=sent.sent_at.date(), specific=f"delivery:{sent.pk}:paper:{paper.arxiv_id}"),
        title=feed_text(paper.title),
        url=url,
        summary=summary,
        content_html="".join(parts_html),
        content_text="\n\n".join(parts_text),
        published=sent.sent_at,
        updated=sent.sent_at,
        tags=[reason] if reason else [],
        extension=extension,
    )


def _code_item(sent: _Sent, paper: Paper) -> FeedItem | None:
    """A "code is now available" notice of a delivery; None when the paper shows no repository."""
    repo = external_url(paper.github_repo)
    if not repo:
        return None
    stars = paper.github_stars
    said = f" (★ {stars})" if stars is not None else ""
    title = feed_text(paper.title)
    summary = f"The code of a paper you were sent is now available: {repo}{said}."
    content_html = (
        f"<p>The code of a paper you were sent is now available: "
        f'<a href="{html.escape(repo)}">{html.escape(repo)}</a>{html.escape(said)}.</p>'
    )
    return FeedItem(
        id=tag_uri(day=sent.sent_at.date(), specific=f"delivery:{sent.pk}:code:{paper.arxiv_id}"),
        title=f"Code is out: {title}",
        url=_paper_url(paper.arxiv_id),
        summary=summary,
        content_html=content_html,
        content_text=f"{summary}\n{_paper_url(paper.arxiv_id)}",
        published=sent.sent_at,
        updated=sent.sent_at,
        tags=["code is now available"],
        extension={
            "kind": "code",
            "arxiv_id": paper.arxiv_id,
            "repository": repo,
            "delivery": str(sent.pk),
        },
    )


def _delivery_items(sent: _Sent, papers: dict[str, Paper], votes: _VoteLinks) -> list[FeedItem]:
    """A delivery's papers in the email's order, then its "code is out" notices."""
    shown = [arxiv_id for arxiv_id in sent.papers if arxiv_id in papers]
    links = votes.for_delivery(sent.pk, shown)
    reasons = dict(zip(sent.papers, sent.reasons, strict=False))  # older rows have none
    items = [
        _pick_item(sent, papers[arxiv_id], reasons.get(arxiv_id, ""), links.get(arxiv_id))
        for arxiv_id in shown
    ]
    notices = (_code_item(sent, papers[a]) for a in sent.notices if a in papers)
    return items + [item for item in notices if item is not None]


def reader_feed_items(*, subscriber: FeedReader, now: dt.datetime) -> list[FeedItem]:
    """The reader's entries: their sent deliveries of the last 30 days, newest first."""
    deliveries = _sent_list(subscriber, now)
    papers = _shown_papers({a for sent in deliveries for a in [*sent.papers, *sent.notices]})
    votes = _VoteLinks(subscriber.email)
    items: list[FeedItem] = []
    for sent in deliveries:
        items += _delivery_items(sent, papers, votes)
        if len(items) >= FEED_MAX_ENTRIES:
            break
    return items[:FEED_MAX_ENTRIES]


def reader_feed_build(*, subscriber: FeedReader, fmt: str, now: dt.datetime) -> str:
    """The reader's private feed, as Atom or JSON Feed text."""
    name = "feed-atom" if fmt == ATOM else "feed-json"
    head = FeedHead(
        title="Paperboy: your papers",
        home_url=site_url(reverse("papers:home")),
        feed_url=site_url(reverse(f"digest:{name}", kwargs={"feed_key": subscriber.feed_key})),
        description="The papers of your digests of the last 30 days, with why each was picked.",
        # Not the address: that changes with the key, the feed stays the reader's one feed.
        id=tag_uri(day=_FEED_ID_DAY, specific=f"reader:{_reader_tag(subscriber)}"),
    )
    return feed_write(head=head, items=reader_feed_items(subscriber=subscriber, now=now), fmt=fmt)


def _reader_tag(subscriber: FeedReader) -> str:
    # Keyed, so the id names no row number a stranger could count with.
    message = f"paperboy.feed:{subscriber.pk}".encode()
    return hashlib.blake2b(
        message, key=settings.SECRET_KEY.encode()[:64], digest_size=12
    ).hexdigest()


def reader_feed_urls(*, subscriber_id: int) -> dict[str, str] | None:
    """The reader's private feed addresses, {"atom": …, "json": …}; None when they have no feed.

    A reader has one while confirmed and active or paused (a team channel never has one).
    """
    key = (
        Subscriber.objects.filter(
            pk=subscriber_id, status__in=FEED_READABLE, confirmed_at__isnull=False
        )
        .exclude(via=Subscriber.Via.CHANNEL)
        .values_list("feed_key", flat=True)
        .first()
    )
    if not key:
        return None
    return {
        fmt: site_url(reverse(f"digest:feed-{fmt}", kwargs={"feed_key": key})) for fmt in FORMATS
    }


@require_safe
def reader_feed(request: HttpRequest, feed_key: str, fmt: str = ATOM) -> HttpResponse:
    """A reader's private feed (Atom or JSON Feed); the same 404 for any key that opens nothing."""
    now = timezone.now()
    found = _reader_lookup(feed_key, now) if fmt in FORMATS else None
    if found is None:
        return _not_found()
    subscriber, state = found
    key = _cache_key(subscriber, state, fmt)
    cached = cache.get(key)
    if cached is None:
        body = reader_feed_build(subscriber=subscriber, fmt=fmt, now=now)
        cached = (body, feed_etag(body))
        cache.set(key, cached, FEED_CACHE_SECONDS)
    body, etag = cached
    # An empty feed last changed when the reader's subscription began.
    last_modified = state.newest or subscriber.since
    response = feed_http(body=body, fmt=fmt, last_modified=last_modified, etag=etag)
    response = feed_conditional(request, response)
    # The reader's own: their browser may keep it, no shared cache may.
    patch_cache_control(response, private=True, max_age=0, must_revalidate=True)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- The published issues -------------------------------------------------------------------------


def _issue_label(issue: Issue) -> str:
    if issue.kind == IssueKind.WEEKLY:
        return f"Weekly digest, week of {issue.date.day} {issue.date:%B %Y}"
    return f"Daily digest, {issue.date:%A} {issue.date.day} {issue.date:%B %Y}"


def _issues_papers(issues: Sequence[Issue]) -> dict[int, list[Paper]]:
    """Each issue's first papers as its public page shows them: pins, then candidates."""
    pins: dict[int, list[str]] = {}
    for issue_id, arxiv_id in IssuePin.objects.filter(issue__in=issues).values_list(
        "issue_id", "paper__arxiv_id"
    ):
        pins.setdefault(issue_id, []).append(arxiv_id)
    hides = set(
        IssueHide.objects.filter(issue__in=issues).values_list("issue_id", "paper__arxiv_id")
    )
    wanted = {
        issue.pk: [
            a
            for a in dict.fromkeys([*pins.get(issue.pk, []), *(issue.candidate_ids or [])])
            if (issue.pk, a) not in hides
        ]
        for issue in issues
    }
    ids = {a for arxiv_ids in wanted.values() for a in arxiv_ids[: ISSUE_PAPERS_NAMED * 3]}
    found = Paper.objects.filter(arxiv_id__in=ids, hidden=False, withdrawn_at__isnull=True)
    by_id = found.only("arxiv_id", "title").in_bulk(field_name="arxiv_id")
    return {
        pk: [by_id[a] for a in arxiv_ids if a in by_id][:ISSUE_PAPERS_NAMED]
        for pk, arxiv_ids in wanted.items()
    }


def _issue_item(issue: Issue, papers: Sequence[Paper]) -> FeedItem:
    url = issue_view_url(issue)
    note = feed_text(issue.note)
    titles = [feed_text(paper.title) for paper in papers]
    lead = f"Led by: {'; '.join(titles)}." if titles else ""
    summary = " ".join(part for part in (note, lead) if part)
    listed = "".join(
        f'<li><a href="{html.escape(_paper_url(p.arxiv_id))}">{html.escape(t)}</a></li>'
        for p, t in zip(papers, titles, strict=True)
    )
    content_html = (f"<p>{html.escape(note)}</p>" if note else "") + (
        f"<ol>{listed}</ol>" if listed else ""
    )
    content_html += f'<p><a href="{html.escape(url)}">Read the issue</a></p>'
    when = issue.sending_at or issue.built_at or issue.created_at
    return FeedItem(
        id=tag_uri(day=issue.date, specific=f"issue:{issue.kind}:{issue.date:%Y-%m-%d}"),
        title=_issue_label(issue),
        url=url,
        summary=summary or _issue_label(issue),
        content_html=content_html,
        content_text="\n".join([summary, *titles, url]) if summary else url,
        published=when,
        updated=when,
        tags=[issue.kind],
        extension={"kind": issue.kind, "date": f"{issue.date:%Y-%m-%d}"},
    )


def issues_feed_build(*, fmt: str) -> tuple[str, dt.datetime | None]:
    """The published issues' feed (body, last modified), newest first."""
    issues = list(issue_list_published()[:ISSUES_IN_FEED])
    papers = _issues_papers(issues)
    name = "issues-feed-atom" if fmt == ATOM else "issues-feed-json"
    head = FeedHead(
        title="Paperboy: digest issues",
        home_url=site_url(reverse("digest:archive")),
        feed_url=site_url(reverse(f"digest:{name}")),
        description="Every digest issue as it goes out: editors' picks and trending papers.",
        id=tag_uri(day=_FEED_ID_DAY, specific="issues"),
    )
    items = [_issue_item(issue, papers[issue.pk]) for issue in issues]
    last_modified = max((issue.updated_at for issue in issues), default=None)
    return feed_write(head=head, items=items, fmt=fmt), last_modified


@require_safe
@publicly_cacheable
@conditional
@server_cached
def issues_feed(request: HttpRequest, fmt: str = ATOM) -> HttpResponse:
    """The public feed of published digest issues (Atom or JSON Feed)."""
    if fmt not in FORMATS:
        raise Http404("No such feed.")
    body, last_modified = issues_feed_build(fmt=fmt)
    return feed_http(body=body, fmt=fmt, last_modified=last_modified)
