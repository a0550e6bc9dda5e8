"""The reader's "Your papers": every paper their digests sent them, by issue, with a search.

Reads only: the sent deliveries of the ledger (their papers, reasons and "code is out" notices),
the papers' titles and authors, and the reader's standing votes. A page costs four queries at
most, whatever the length of the reader's history: the ledger's rows, the matches of a search,
the page's papers and the reader's votes on them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.core.paginator import Page, Paginator
from django.db.models import Q

from digest.models import Delivery, DeliveryStatus, Vote
from papers.models import Paper
from subscriptions.models import Subscriber

HISTORY_PAGE_SIZE = 20  # issues per page
# As long as the site's own search box allows: anything longer is cut, never refused.
HISTORY_QUERY_MAX_CHARS = 200


@dataclass(frozen=True)
class HistoryPaper:
    """One paper as a digest sent it to the reader, with what the reader did and was told."""

    arxiv_id: str
    title: str  # the arXiv id when the paper is no longer stored
    authors: tuple[str, ...]
    reason: str  # why it was picked for the reader; "" for deliveries recorded before reasons
    vote: str  # the reader's standing vote on it (a VoteDirection), or ""
    code_told_on: dt.date | None  # the issue whose digest told them its code is out, if one did
    code_url: str  # the paper's code link as stored (unchecked: templates filter it)
    listed: bool  # stored and not hidden by the editors: its page on the site can be linked


@dataclass(frozen=True)
class HistoryIssue:
    """One digest the reader was sent: its issue and the papers in it, in the order sent."""

    delivery_id: int
    date: dt.date
    kind: str  # an IssueKind
    sent_at: dt.datetime | None
    papers: tuple[HistoryPaper, ...]


@dataclass(frozen=True)
class ReaderHistory:
    """A page of the reader's issues, newest first, and what the search was."""

    page: Page[HistoryIssue]
    query: str  # the search as used (cleaned, shortened); "" for none
    shortened: bool  # the search typed was longer than HISTORY_QUERY_MAX_CHARS
    papers: int  # papers sent (or matching the search) over every page
    sent_any: bool  # the reader was ever sent a digest (tells "none yet" from "no match")


@dataclass(frozen=True)
class _Row:
    """A sent delivery as read from the ledger, before its papers are looked up."""

    delivery_id: int
    papers: tuple[str, ...]
    reasons: tuple[str, ...]
    notices: tuple[str, ...]
    sent_at: dt.datetime | None
    date: dt.date
    kind: str


def history_query_clean(raw: str) -> tuple[str, bool]:
    """(the search as used, whether it was shortened): spaces folded, no NUL or lone surrogate."""
    # PostgreSQL refuses a NUL in a string, and a lone surrogate cannot be encoded for a database.
    text = raw.replace("\x00", " ").encode("utf-8", "ignore").decode("utf-8")
    folded = " ".join(text.split())
    return folded[:HISTORY_QUERY_MAX_CHARS].strip(), len(folded) > HISTORY_QUERY_MAX_CHARS


def reader_history(*, subscriber: Subscriber, query: str, page: str | int | None) -> ReaderHistory:
    """One page of the issues the reader was sent, newest first; with a query, only the matches."""
    cleaned, shortened = history_query_clean(query)
    rows = _sent_rows(subscriber_id=subscriber.pk)
    told = _code_told(rows)
    shown = rows
    if cleaned:
        matched = _papers_matching(arxiv_ids=_ids_of(rows), query=cleaned)
        shown = [_only(row, matched) for row in rows if matched.intersection(row.papers)]
    paginator = Paginator(shown, HISTORY_PAGE_SIZE)
    found = paginator.get_page(page)
    issues = _issues(subscriber=subscriber, rows=list(found.object_list), told=told)
    # The page shows its rows made into issues; the paginator still counts the rows (one each).
    counted = cast("Paginator[HistoryIssue]", paginator)
    return ReaderHistory(
        page=Page(issues, found.number, counted),
        query=cleaned,
        shortened=shortened,
        papers=sum(len(row.papers) for row in shown),
        sent_any=bool(rows),
    )


def history_list_export(*, subscriber_id: int) -> list[dict[str, Any]]:
    """Every paper the reader was sent, by issue, oldest first, JSON-ready, for their export."""
    rows = _sent_rows(subscriber_id=subscriber_id)[::-1]
    told = _code_told(rows)
    votes = dict(
        Vote.objects.filter(subscriber_id=subscriber_id).values_list("arxiv_id", "direction")
    )
    return [
        {
            "issue_date": row.date.isoformat(),
            "issue_kind": row.kind,
            "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            "papers": [
                {
                    "arxiv_id": arxiv_id,
                    "reason": reason or None,
                    "vote": votes.get(arxiv_id),
                    "code_notice": arxiv_id in told,
                }
                for arxiv_id, reason in _with_reasons(row)
            ],
        }
        for row in rows
    ]


# --- The ledger's rows ----------------------------------------------------------------------------


def _strings(value: object) -> tuple[str, ...]:
    """The strings of a JSON list read from the ledger (anything else in it is skipped)."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _sent_rows(*, subscriber_id: int) -> list[_Row]:
    """The reader's sent deliveries, newest issue first, in one query."""
    deliveries = (
        Delivery.objects.filter(subscriber_id=subscriber_id, status=DeliveryStatus.SENT)
        .order_by("-issue__date", "issue__kind", "-pk")
        .values_list("pk", "papers", "reasons", "notices", "sent_at", "issue__date", "issue__kind")
    )
    return [
        _Row(pk, _strings(papers), _strings(reasons), _strings(notices), sent_at, date, kind)
        for pk, papers, reasons, notices, sent_at, date, kind in deliveries
    ]


def _with_reasons(row: _Row) -> list[tuple[str, str]]:
    """(arXiv id, reason) of each paper of the row; reasons are parallel to papers, if recorded."""
    reasons = row.reasons if len(row.reasons) == len(row.papers) else ()
    return [(arxiv_id, reasons[n] if reasons else "") for n, arxiv_id in enumerate(row.papers)]


def _only(row: _Row, arxiv_ids: set[str]) -> _Row:
    """The row with only these papers (and their reasons), in their order."""
    kept = [(arxiv_id, reason) for arxiv_id, reason in _with_reasons(row) if arxiv_id in arxiv_ids]
    return _Row(
        row.delivery_id,
        tuple(arxiv_id for arxiv_id, _ in kept),
        tuple(reason for _, reason in kept) if row.reasons else (),
        row.notices,
        row.sent_at,
        row.date,
        row.kind,
    )


def _ids_of(rows: Sequence[_Row]) -> list[str]:
    return list(dict.fromkeys(arxiv_id for row in rows for arxiv_id in row.papers))


def _code_told(rows: Sequence[_Row]) -> dict[str, dt.date]:
    """{arXiv id: the date of the first issue that told the reader its code is out}."""
    told: dict[str, dt.date] = {}
    for row in rows:  # newest first: the oldest telling is written last
        told.update(dict.fromkeys(row.notices, row.date))
    return told


# --- The papers -----------------------------------------------------------------------------------


def _papers_matching(*, arxiv_ids: list[str], query: str) -> set[str]:
    """Those of these papers whose title, authors, abstract or arXiv id hold the query."""
    if not arxiv_ids:
        return set()
    # The authors are a JSON list: SQLite stores its text with non-ASCII letters \u-escaped (and
    # quotes escaped on both databases), so the query is looked for as JSON writes it too.
    as_json = json.dumps(query)[1:-1]
    matches = (
        Q(title__icontains=query)
        | Q(abstract__icontains=query)
        | Q(arxiv_id__icontains=query)
        | Q(authors__icontains=query)
        | Q(authors__icontains=as_json)
    )
    found = Paper.objects.filter(matches, arxiv_id__in=arxiv_ids)
    return set(found.values_list("arxiv_id", flat=True))


def _issues(
    *, subscriber: Subscriber, rows: Sequence[_Row], told: dict[str, dt.date]
) -> list[HistoryIssue]:
    """The page's rows with their papers and the reader's votes on them (two queries)."""
    ids = _ids_of(rows)
    if not ids:
        return []
    papers = Paper.objects.filter(arxiv_id__in=ids).only(
        "arxiv_id", "title", "authors", "github_repo", "hidden"
    )
    stored = {paper.arxiv_id: paper for paper in papers}
    votes = dict(
        Vote.objects.filter(subscriber=subscriber, arxiv_id__in=ids).values_list(
            "arxiv_id", "direction"
        )
    )

    def shown(arxiv_id: str, reason: str) -> HistoryPaper:
        paper = stored.get(arxiv_id)
        return HistoryPaper(
            arxiv_id=arxiv_id,
            title=" ".join(paper.title.split()) if paper else arxiv_id,
            authors=_strings(paper.authors) if paper else (),
            reason=reason,
            vote=votes.get(arxiv_id, ""),
            code_told_on=told.get(arxiv_id),
            code_url=paper.github_repo if paper else "",
            listed=paper is not None and not paper.hidden,
        )

    return [
        HistoryIssue(
            delivery_id=row.delivery_id,
            date=row.date,
            kind=row.kind,
            sent_at=row.sent_at,
            papers=tuple(shown(arxiv_id, reason) for arxiv_id, reason in _with_reasons(row)),
        )
        for row in rows
    ]
