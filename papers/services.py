"""Fetching papers: every fetch is a FetchRun that either stores all of its papers or nothing.

A run is logged (committed on its own, so the log survives a failed fetch), every page is
fetched and parsed before anything is written, and the papers are ingested in one
transaction together with the run's success. Any error leaves the Paper table as it was and
the run marked failed with a one-line reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from papers.ingest import IngestCounts, papers_ingest, papers_search_index
from papers.models import FetchRun, Source
from papers.sources import arxiv_api, arxiv_rss, hf_api, hf_html
from papers.sources.detect import PARSERS, detect_format
from papers.sources.http import Fetched, FetchError, HttpClient, TransientFetchError
from papers.sources.records import PaperRecord, ParseError, ParseResult

logger = logging.getLogger(__name__)

MAX_ERROR = 1_000

Body = bytes | Fetched | None  # None: the server said "not modified" (304)
Fetch = Callable[[], Sequence[Body]]
Parse = Callable[[bytes], ParseResult]


def fetch_run_execute(
    *, source: str, params: dict, fetch: Fetch, parse: Parse, client: HttpClient | None = None
) -> FetchRun:
    """Fetch, parse every body, ingest them in one transaction, and log it all in a FetchRun.

    Returns the run, succeeded or failed (a FetchError or ParseError is the source's fault and
    is recorded, not raised). A TransientFetchError is recorded and re-raised so a task can
    retry; any other exception is a bug: recorded and re-raised too.
    """
    run = FetchRun.objects.create(source=source, params=params, status=FetchRun.Status.RUNNING)
    try:
        records, reasons = _fetch_and_parse(fetch=fetch, parse=parse)
        with transaction.atomic():
            counts = papers_ingest(records=records, fetch_run=run, now=timezone.now())
            counts.skipped += len(reasons)
            _finish(run, status=FetchRun.Status.SUCCEEDED, counts=counts)
            if client is not None:
                # Only a committed ingest may mark the bodies as seen, or a 304 would hide them forever.
                transaction.on_commit(client.remember)
    except (FetchError, ParseError) as exc:
        _fail(run, exc)
        if isinstance(exc, TransientFetchError):
            raise
        return run
    except Exception as exc:
        _fail(run, exc)
        logger.exception("fetch run #%s (%s) crashed", run.pk, source, extra={"fetch_run": run.pk, "source": source})
        raise
    _search_index()
    for reason in reasons:
        logger.warning(
            "record skipped (run #%s): %s",
            run.pk,
            reason,
            extra={"fetch_run": run.pk, "source": source, "reason": reason},
        )
    # "created" is a LogRecord attribute of its own, hence the prefix.
    counted = {f"papers_{name}": value for name, value in _counts_dict(counts).items()}
    logger.info(
        "fetch run #%s (%s) succeeded: %s",
        run.pk,
        source,
        ", ".join(f"{value} {name}" for name, value in _counts_dict(counts).items()),
        extra={"fetch_run": run.pk, "source": source, **counted},
    )
    return run


def _search_index() -> None:
    """Make the papers just committed searchable; a failure only delays that to the next fetch."""
    try:
        papers_search_index()
    except DatabaseError:
        logger.exception("search indexing failed; the next fetch will index these papers")


def _fetch_and_parse(*, fetch: Fetch, parse: Parse) -> tuple[list[PaperRecord], list[str]]:
    """Every record of every body, parsed before anything is written; and the reasons of the skipped."""
    records: list[PaperRecord] = []
    reasons: list[str] = []
    for body in fetch():
        if body is None:
            continue
        result = parse(body.content if isinstance(body, Fetched) else body)
        records.extend(result.records)
        reasons.extend(result.skipped)
    return records, reasons


def _finish(run: FetchRun, *, status: str, counts: IngestCounts | None = None, error: str = "") -> None:
    run.status = status
    run.finished_at = timezone.now()
    run.error = error
    for name, value in _counts_dict(counts or IngestCounts()).items():
        setattr(run, name, value)
    run.save(update_fields=["status", "finished_at", "error", "params", "created", "updated", "unchanged", "skipped"])


def _fail(run: FetchRun, exc: BaseException) -> None:
    """Mark the run failed (after the ingest rolled back, so this write is kept)."""
    error = error_line(exc)
    _finish(run, status=FetchRun.Status.FAILED, error=error)
    logger.warning(
        "fetch run #%s (%s) failed: %s", run.pk, run.source, error, extra={"fetch_run": run.pk, "source": run.source}
    )


def error_line(exc: BaseException) -> str:
    """A one-line, bounded description of an exception for logs, the FetchRun and the command."""
    message = " ".join(str(exc).split())
    # Our own errors say what went wrong; anything else also needs its type to make sense.
    if not isinstance(exc, FetchError | ParseError) or not message:
        message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return message[:MAX_ERROR]


def _counts_dict(counts: IngestCounts) -> dict[str, int]:
    return {
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "skipped": counts.skipped,
    }


# --- Source entry points -------------------------------------------------------------------


def papers_fetch_hf(*, date: dt.date | None = None, week: str | None = None, month: str | None = None) -> FetchRun:
    """One day, ISO week ("2025-W47") or month ("2025-11") of the HF Daily Papers API."""
    client = HttpClient()
    params = {key: value for key, value in (("date", _iso(date)), ("week", week), ("month", month)) if value}
    return fetch_run_execute(
        source=Source.HF,
        params=params,
        fetch=lambda: hf_api.fetch(client, date=date, week=week, month=month),
        parse=hf_api.parse,
        client=client,
    )


def papers_fetch_hf_html(*, date: dt.date | None = None) -> FetchRun:
    """One day of the HF papers HTML pages (today's without a date): the fallback when the API fails."""
    client = HttpClient()
    return fetch_run_execute(
        source=Source.HF_HTML,
        params={"date": _iso(date)} if date else {},
        fetch=lambda: hf_html.fetch(client, date=date),
        parse=hf_html.parse,
        client=client,
    )


def papers_fetch_arxiv(
    *,
    categories: list[str],
    since: dt.date | None = None,
    until: dt.date | None = None,
    ids: list[str] | None = None,
) -> FetchRun:
    """arXiv papers: by id, by submission dates per category (Atom API), or today's announcements (RSS)."""
    client = HttpClient(min_interval=settings.PAPERBOY_ARXIV_MIN_INTERVAL)
    if ids:
        return fetch_run_execute(
            source=Source.ARXIV,
            params={"ids": list(ids)},
            fetch=lambda: arxiv_api.fetch(client, ids=list(ids), max_results=max(len(ids), 1)),
            parse=arxiv_api.parse,
            client=client,
        )
    if since or until:

        def fetch() -> list[Fetched]:
            return [
                page
                for category in categories
                for page in arxiv_api.fetch(client, category=category, since=since, until=until)
            ]

        return fetch_run_execute(
            source=Source.ARXIV,
            params={"categories": list(categories), "since": _iso(since), "until": _iso(until)},
            fetch=fetch,
            parse=arxiv_api.parse,
            client=client,
        )
    return fetch_run_execute(
        source=Source.ARXIV_RSS,
        params={"categories": list(categories)},
        fetch=lambda: arxiv_rss.fetch(client, categories=list(categories)),
        parse=arxiv_rss.parse,
        client=client,
    )


def papers_load_file(*, path: str | Path) -> FetchRun:
    """A saved response of any source (HF JSON, HF HTML, arXiv Atom, arXiv RSS), its format recognized."""
    path = Path(path)
    params: dict[str, str] = {"path": str(path)}

    def fetch() -> list[bytes]:
        try:
            return [path.read_bytes()]
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def parse(raw: bytes) -> ParseResult:
        fmt = detect_format(raw)
        # The run's params are saved again when it finishes, so the detected format is logged too.
        params["format"] = fmt
        return PARSERS[fmt](raw)

    return fetch_run_execute(source=Source.FILE, params=params, fetch=fetch, parse=parse)


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None
