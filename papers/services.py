"""Fetching papers: every fetch is a FetchRun that either stores all of its papers or nothing.

A run is logged (committed on its own, so the log survives a failed fetch), every page is
fetched and parsed before anything is written, and the papers are ingested in one
transaction together with the run's success. Any error leaves the Paper table as it was and
the run marked failed with a one-line reason. A run that succeeded with less than the source
holds (an arXiv day past its cap) says so in its error field: "truncated: fetched N of M ...".

A source that keeps failing the same way (offline, every retry and every hourly fetch) does not
add a run per attempt: the failure is folded into the source's last run while that one is a
failed run of the same kind, which counts it (`failures`) and keeps the last error. Only the
first failure of a kind logs a warning; a crash (a bug) always gets its own run and traceback.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from papers.ingest import IngestCounts, papers_ingest, papers_search_index
from papers.models import FetchRun, Source
from papers.signals import papers_changed
from papers.sources import arxiv_api, arxiv_rss, hf_api, hf_html
from papers.sources.detect import PARSERS, detect_format
from papers.sources.http import Fetched, FetchError, HttpClient, TransientFetchError
from papers.sources.records import PaperRecord, ParseError, ParseResult

logger = logging.getLogger(__name__)

MAX_ERROR = 1_000
# Entries per category per day of an arXiv backfill. A busy day of cs.LG passes 1,000 and the
# API serves at most 30,000 per query; 5,000 covers every category we know of with room to
# spare, and is 25 pages (75 s at arXiv's pace). Anything cut off is recorded on the run.
ARXIV_DAY_MAX_RESULTS = 5_000
AUTHOR_PAPERS_MAX = 10  # an author's newest papers taken as a reader's seeds

Body = bytes | Fetched | None  # None: the server said "not modified" (304)
Fetch = Callable[[], Sequence[Body]]
Parse = Callable[[bytes], ParseResult]


def fetch_run_execute(
    *,
    source: str,
    params: dict,
    fetch: Fetch,
    parse: Parse,
    client: HttpClient | None = None,
    notes: list[str] | None = None,
) -> FetchRun:
    """Fetch, parse every body, ingest them in one transaction, and log it all in a FetchRun.

    Returns the run, succeeded or failed (a FetchError or ParseError is the source's fault and
    is recorded, not raised). A TransientFetchError is recorded and re-raised so a task can
    retry; any other exception is a bug: recorded and re-raised too. `notes` may be filled by
    `fetch` or `parse` with caveats of a good fetch (a truncated result): a succeeded run keeps
    them in its error field, where the admin and the command show them.
    """
    notes = notes if notes is not None else []
    # Committed on its own, outside the ingest's transaction, so the log survives a failed fetch.
    run = FetchRun.objects.create(source=source, params=params, status=FetchRun.Status.RUNNING)
    try:
        records, reasons = _fetch_and_parse(fetch=fetch, parse=parse)
        counts = _fetch_run_ingest(
            run, records=records, skipped=len(reasons), notes=notes, client=client
        )
    except (FetchError, ParseError) as exc:
        run = _fetch_run_fail(run, exc)
        if isinstance(exc, TransientFetchError):
            raise
        return run
    except Exception as exc:
        _fetch_run_fail(run, exc, coalesce=False)
        _fetch_run_log_crash(run)
        raise
    _papers_announce(run, counts=counts)
    _fetch_run_log_skipped(run, reasons=reasons)
    _fetch_run_log_notes(run, notes=notes)
    _fetch_run_log_success(run, counts=counts)
    return run


def _fetch_run_ingest(
    run: FetchRun,
    *,
    records: list[PaperRecord],
    skipped: int,
    notes: list[str],
    client: HttpClient | None,
) -> IngestCounts:
    """Store the records and mark the run succeeded, in one transaction."""
    with transaction.atomic():
        counts = papers_ingest(records=records, fetch_run=run, now=timezone.now())
        counts.skipped += skipped
        _fetch_run_finish(
            run, status=FetchRun.Status.SUCCEEDED, counts=counts, error=_note_line(notes)
        )
        if client is not None:
            # Only a committed ingest may mark the bodies as seen, or a 304 would
            # hide them forever.
            transaction.on_commit(client.remember)
    return counts


def _papers_announce(run: FetchRun, *, counts: IngestCounts) -> None:
    """Once the ingest committed: index the papers and tell listeners that papers changed."""
    _search_index_or_log()
    if counts.created or counts.updated:
        # After the commit: whoever listens (the digest embeds them) finds the papers stored.
        papers_changed.send(sender=FetchRun, since=run.started_at)


def _fetch_run_log_crash(run: FetchRun) -> None:
    """Log the exception being handled, with its traceback: an unexpected one is a bug."""
    logger.exception(
        "fetch run #%s (%s) crashed",
        run.pk,
        run.source,
        extra={"fetch_run": run.pk, "source": run.source},
    )


def _fetch_run_log_skipped(run: FetchRun, *, reasons: list[str]) -> None:
    for reason in reasons:
        logger.warning(
            "record skipped (run #%s): %s",
            run.pk,
            reason,
            extra={"fetch_run": run.pk, "source": run.source, "reason": reason},
        )


def _fetch_run_log_notes(run: FetchRun, *, notes: list[str]) -> None:
    for note in notes:
        logger.warning(
            "fetch run #%s (%s): %s",
            run.pk,
            run.source,
            note,
            extra={"fetch_run": run.pk, "source": run.source},
        )


def _fetch_run_log_success(run: FetchRun, *, counts: IngestCounts) -> None:
    # "created" is a LogRecord attribute of its own, hence the prefix.
    counted = {f"papers_{name}": value for name, value in _counts_dict(counts).items()}
    logger.info(
        "fetch run #%s (%s) succeeded: %s",
        run.pk,
        run.source,
        ", ".join(f"{value} {name}" for name, value in _counts_dict(counts).items()),
        extra={"fetch_run": run.pk, "source": run.source, **counted},
    )


def _search_index_or_log() -> None:
    """Make the papers just committed searchable; a failure only delays that to the next fetch."""
    try:
        papers_search_index()
    except DatabaseError:
        logger.exception("search indexing failed; the next fetch will index these papers")


def _fetch_and_parse(*, fetch: Fetch, parse: Parse) -> tuple[list[PaperRecord], list[str]]:
    """Every record of every body, parsed before anything is written, and why any were skipped."""
    records: list[PaperRecord] = []
    reasons: list[str] = []
    for body in fetch():
        if body is None:
            continue
        result = parse(body.content if isinstance(body, Fetched) else body)
        records.extend(result.records)
        reasons.extend(result.skipped)
    return records, reasons


def _fetch_run_finish(
    run: FetchRun, *, status: str, counts: IngestCounts | None = None, error: str = ""
) -> None:
    run.status = status
    run.finished_at = timezone.now()
    run.error = error
    for name, value in _counts_dict(counts or IngestCounts()).items():
        setattr(run, name, value)
    run.save(
        update_fields=[
            "status",
            "finished_at",
            "error",
            "params",
            "created",
            "updated",
            "unchanged",
            "skipped",
            "failures",
            "failure_kind",
        ]
    )


def _fetch_run_fail(run: FetchRun, exc: BaseException, *, coalesce: bool = True) -> FetchRun:
    """Mark the run failed, or fold it into the source's open failed run; return the one kept.

    Called after the ingest rolled back, so these writes are kept. A new failed run logs one
    warning line; a repeat of the same failure only a debug line (the run counts it).
    """
    error, kind = error_line(exc), failure_kind(exc)
    extra = {"source": run.source, "failure_kind": kind}
    open_run = _fetch_run_coalesce(run, error=error, kind=kind) if coalesce else None
    if open_run is not None:
        logger.debug(
            "fetch run #%s (%s) failed again, %s (%s times): %s",
            open_run.pk,
            open_run.source,
            kind,
            open_run.failures,
            error,
            extra={"fetch_run": open_run.pk, "failures": open_run.failures, **extra},
        )
        return open_run
    run.failures, run.failure_kind = 1, kind
    _fetch_run_finish(run, status=FetchRun.Status.FAILED, error=error)
    logger.warning(
        "fetch run #%s (%s) failed, %s: %s",
        run.pk,
        run.source,
        kind,
        error,
        extra={"fetch_run": run.pk, **extra},
    )
    return run


def _fetch_run_coalesce(run: FetchRun, *, error: str, kind: str) -> FetchRun | None:
    """Count this failure on the source's previous run if that failed the same way; else None.

    The conditional UPDATE decides: should the previous run have changed meanwhile, this run is
    kept as a failed run of its own. The row that is folded in is deleted (it holds nothing:
    the ingest rolled back).
    """
    previous = (
        FetchRun.objects.filter(source=run.source, pk__lt=run.pk)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if previous is None:
        return None
    updated = FetchRun.objects.filter(
        pk=previous, status=FetchRun.Status.FAILED, failure_kind=kind
    ).update(
        failures=F("failures") + 1,
        finished_at=timezone.now(),
        error=error,
        params=run.params,  # the last attempt's, like its error
    )
    if not updated:
        return None
    run.delete()
    return FetchRun.objects.get(pk=previous)


def failure_kind(exc: BaseException) -> str:
    """What kind of failure a fetch met, in a word or two: one warning per kind and source."""
    if isinstance(exc, FetchError) and exc.status is not None:
        return f"HTTP {exc.status}"
    if isinstance(exc, TransientFetchError):
        return "unreachable"  # no network, DNS, refused, timed out
    if isinstance(exc, FetchError):
        return "unusable"  # too large, an unreadable file
    if isinstance(exc, ParseError):
        return "unparsable"
    return "crash"


def _note_line(notes: list[str]) -> str:
    return " ".join("; ".join(notes).split())[:MAX_ERROR]


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


def papers_fetch_hf(
    *, date: dt.date | None = None, week: str | None = None, month: str | None = None
) -> FetchRun:
    """One day, ISO week ("2025-W47") or month ("2025-11") of the HF Daily Papers API."""
    client = HttpClient()
    params = {
        key: value
        for key, value in (("date", _iso_date(date)), ("week", week), ("month", month))
        if value
    }
    return fetch_run_execute(
        source=Source.HF,
        params=params,
        fetch=lambda: hf_api.fetch(client, date=date, week=week, month=month),
        parse=hf_api.parse,
        client=client,
    )


def papers_fetch_hf_html(*, date: dt.date | None = None) -> FetchRun:
    """One day of the HF papers HTML pages (today's without a date): the API's fallback."""
    client = HttpClient()
    return fetch_run_execute(
        source=Source.HF_HTML,
        params={"date": _iso_date(date)} if date else {},
        fetch=lambda: hf_html.fetch(client, date=date),
        parse=hf_html.parse,
        client=client,
    )


def papers_fetch_hf_day(*, date: dt.date) -> FetchRun:
    """One day of HF Daily Papers from the API, or from the day's HTML page when the API fails.

    Each attempt is its own FetchRun. Returns the run that succeeded, or the HTML run when both
    failed for good. If neither succeeded and either failed transiently, a TransientFetchError
    is raised, so a task retries: the next try may well succeed.
    """
    transient: TransientFetchError | None = None
    try:
        api_run = papers_fetch_hf(date=date)
    except TransientFetchError as exc:
        transient = exc
        api_error = error_line(exc)
    else:
        if api_run.status == FetchRun.Status.SUCCEEDED:
            return api_run
        api_error = api_run.error
    # The API's run already logged its failure (once per kind): this only says what comes next.
    logger.debug(
        "HF API failed for %s (%s): trying the HTML page",
        date,
        api_error,
        extra={"source": Source.HF, "date": date.isoformat()},
    )
    # A transient failure of the fallback propagates as is: the task retries both.
    html_run = papers_fetch_hf_html(date=date)
    if html_run.status == FetchRun.Status.FAILED and transient is not None:
        raise transient
    return html_run


def papers_fetch_hf_days(*, dates: Sequence[dt.date]) -> list[FetchRun]:
    """`papers_fetch_hf_day` for each day; one day's failure does not stop the others' fetches.

    Returns one run per day (the last attempt of each). If any day failed transiently, its
    TransientFetchError is raised once every day was tried, so a task retries.
    """
    runs: list[FetchRun] = []
    transient: TransientFetchError | None = None
    for date in dates:
        try:
            runs.append(papers_fetch_hf_day(date=date))
        except TransientFetchError as exc:
            transient = transient or exc
    if transient is not None:
        raise transient
    return runs


def papers_fetch_arxiv(*, categories: list[str], ids: list[str] | None = None) -> FetchRun:
    """arXiv papers by id (Atom API), or else today's announcements for the categories (RSS)."""
    client = HttpClient(min_interval=settings.PAPERBOY_ARXIV_MIN_INTERVAL)
    if ids:
        return fetch_run_execute(
            source=Source.ARXIV,
            params={"ids": list(ids)},
            fetch=lambda: arxiv_api.fetch(client, ids=list(ids), max_results=max(len(ids), 1)),
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


@dataclass(frozen=True)
class PapersFound:
    """A look-up's FetchRun and the arXiv ids it found and stored, newest first."""

    run: FetchRun
    arxiv_ids: tuple[str, ...] = ()


def papers_fetch_arxiv_author(
    *, name: str = "", orcid: str = "", limit: int = AUTHOR_PAPERS_MAX
) -> PapersFound:
    """The `limit` newest papers of an author, by name (API search) or ORCID iD (author feed).

    They are stored like any fetch, in one FetchRun. The ids are empty when the run failed
    (an ORCID iD arXiv does not know is a 404, a failed run); a TransientFetchError is raised,
    so that a task retries. Never conditional: asking again must find the papers again.
    """
    if bool(name) == bool(orcid):
        raise ValueError("give an author's name or an ORCID iD, not both")
    client = HttpClient(min_interval=settings.PAPERBOY_ARXIV_MIN_INTERVAL)
    found: list[str] = []
    parse_feed: Parse = arxiv_api.author_feed_parse if orcid else arxiv_api.parse

    def fetch() -> list[Fetched]:
        if orcid:
            return arxiv_api.author_feed_fetch(client, author_id=orcid)
        return arxiv_api.fetch(client, author=name, page_size=limit, max_results=limit)

    def parse(raw: bytes) -> ParseResult:
        result = parse_feed(raw)
        # The author feed lists every paper, in no promised order: keep the newest.
        newest = _newest_first(result.records)[:limit]
        found.extend(record.arxiv_id for record in newest)
        return ParseResult(records=newest, skipped=result.skipped)

    # No client given: its validators are never remembered, so no request is ever answered 304.
    run = fetch_run_execute(
        source=Source.ARXIV,
        params={"orcid": orcid} if orcid else {"author": name},
        fetch=fetch,
        parse=parse,
    )
    succeeded = run.status == FetchRun.Status.SUCCEEDED
    return PapersFound(run=run, arxiv_ids=tuple(dict.fromkeys(found)) if succeeded else ())


def _newest_first(records: list[PaperRecord]) -> list[PaperRecord]:
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(records, key=lambda record: record.published_at or oldest, reverse=True)


def papers_fetch_arxiv_day(
    *, categories: list[str], date: dt.date, max_results: int | None = None
) -> FetchRun:
    """The papers submitted on one day in these categories (Atom API), all in one run.

    Each category is one query of up to `max_results` entries (default ARXIV_DAY_MAX_RESULTS).
    When arXiv holds more than it gave, the run still succeeds with what it got, and its error
    field says "truncated: fetched N of M for <category>".
    """
    client = HttpClient(min_interval=settings.PAPERBOY_ARXIV_MIN_INTERVAL)
    limit = max_results or ARXIV_DAY_MAX_RESULTS
    notes: list[str] = []

    def fetch() -> list[Fetched]:
        pages: list[Fetched] = []
        for category in categories:
            fetched = arxiv_api.fetch(
                client, category=category, since=date, until=date, max_results=limit
            )
            shortfall = _arxiv_shortfall(fetched)
            if shortfall is not None:
                notes.append(f"truncated: fetched {shortfall[0]} of {shortfall[1]} for {category}")
            pages.extend(fetched)
        return pages

    return fetch_run_execute(
        source=Source.ARXIV,
        params={"categories": list(categories), "date": date.isoformat()},
        fetch=fetch,
        parse=arxiv_api.parse,
        client=client,
        notes=notes,
    )


def _arxiv_shortfall(pages: list[Fetched]) -> tuple[int, int] | None:
    """(entries fetched, entries the query has) when the pages hold fewer than totalResults."""
    if not pages:  # 304: unchanged since it was last ingested in full
        return None
    total = arxiv_api.total_results(pages[0].content)
    # Counting <entry> elements, not records: a skipped entry was fetched, just unusable.
    fetched = sum(
        len(arxiv_api.parse_xml(page.content).findall(f"{arxiv_api.ATOM}entry")) for page in pages
    )
    return (fetched, total) if fetched < total else None


def papers_load_file(*, path: str | Path) -> FetchRun:
    """A saved response of any source (HF JSON or HTML, arXiv Atom or RSS), its format detected."""
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


def _iso_date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None
