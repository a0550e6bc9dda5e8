"""Fetch papers from a source (or load a saved response) and print what changed."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from papers.models import FetchRun
from papers.services import (
    error_line,
    papers_fetch_arxiv,
    papers_fetch_arxiv_day,
    papers_fetch_hf,
    papers_fetch_hf_html,
    papers_load_file,
)

MAX_RANGE_DAYS = 366
SOURCES = ("hf", "hf-html", "arxiv")
ARXIV_OPENED = dt.date(1991, 8, 1)  # nothing, on arXiv or HF, is older
# An archive ("hep-th", "cs") and an optional subject class: "cs.CV", "astro-ph.GA", "q-bio.NC",
# or the lower-case ones of physics and cond-mat ("cond-mat.mes-hall", "physics.optics").
# The category goes into a URL and a query: nothing else gets through.
CATEGORY = re.compile(r"[a-z]+(?:-[a-z]+)?(?:\.(?:[A-Z]{2}|[a-z]+(?:-[a-z]+)?))?")
MAX_CATEGORY = 32  # the longest real one, "cond-mat.quant-gas", has 18

FetchDay = Callable[[dt.date], FetchRun]


class Command(BaseCommand):
    help = (
        "Fetch papers: --source hf|hf-html|arxiv for today, one --date, or a --since/--until "
        "backfill (one run per day); or --from-file PATH to load a saved HF JSON/HTML or arXiv "
        "Atom/RSS response."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", choices=SOURCES, help="where to fetch from")
        parser.add_argument("--date", help="one day, YYYY-MM-DD (default: today)")
        parser.add_argument("--since", help="first day of a range, YYYY-MM-DD")
        parser.add_argument("--until", help="last day of a range, YYYY-MM-DD (default: today)")
        parser.add_argument(
            "--category",
            action="append",
            dest="categories",
            help="arXiv category such as cs.CV, repeatable (default: PAPERBOY_ARXIV_CATEGORIES)",
        )
        parser.add_argument(
            "--from-file", dest="from_file", help="load a saved response; its format is detected"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The summary line says it all; the service's own log lines come with -v 2.
        with _logs_quiet(unless=options["verbosity"] >= 2):
            self._fetch_by_options(options)

    def _fetch_by_options(self, options: dict[str, Any]) -> None:
        if options["from_file"]:
            self._load_file(options)
            return
        source = options["source"]
        if not source:
            raise CommandError("give --source hf|hf-html|arxiv or --from-file PATH")
        if options["categories"] is not None and source != "arxiv":
            raise CommandError("--category only applies to --source arxiv")
        date, since, until = _dates_checked(options)
        if source == "arxiv":
            self._fetch_arxiv(
                _categories_checked(options["categories"]), date=date, since=since, until=until
            )
        elif since and until:
            fetch = papers_fetch_hf if source == "hf" else papers_fetch_hf_html
            self._backfill(source, lambda day: fetch(date=day), since=since, until=until)
        else:
            fetch = papers_fetch_hf if source == "hf" else papers_fetch_hf_html
            # HF's API wants a day: "today" is the current UTC day, as the hourly task uses.
            day = date or (dt.datetime.now(dt.UTC).date() if source == "hf" else None)
            self._fetch_and_report(_run_label(source, date=day), lambda: fetch(date=day))

    def _fetch_arxiv(
        self,
        categories: list[str],
        *,
        date: dt.date | None,
        since: dt.date | None,
        until: dt.date | None,
    ) -> None:
        """A date or range: the API, one day (one run) at a time; no date: today's feed."""
        if since and until:
            self._backfill(
                "arxiv",
                lambda day: papers_fetch_arxiv_day(categories=categories, date=day),
                since=since,
                until=until,
            )
        elif date:
            self._fetch_and_report(
                _run_label("arxiv", date=date),
                lambda: papers_fetch_arxiv_day(categories=categories, date=date),
            )
        else:
            self._fetch_and_report(
                _run_label("arxiv"), lambda: papers_fetch_arxiv(categories=categories)
            )

    def _load_file(self, options: dict[str, Any]) -> None:
        given = [
            name
            for name in ("source", "date", "since", "until", "categories")
            if options[name] is not None
        ]
        if given:
            raise CommandError(f"--from-file cannot be combined with --{given[0]}")
        path = Path(options["from_file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        self._fetch_and_report(f"file {path.name}", lambda: papers_load_file(path=path))

    def _fetch_and_report(self, label: str, execute: Callable[[], FetchRun]) -> FetchRun:
        try:
            run = execute()
        except Exception as exc:
            # The run is already marked failed; the operator needs the reason, not a traceback.
            raise CommandError(f"fetch failed: {error_line(exc)}") from exc
        if run.status == FetchRun.Status.FAILED:
            raise CommandError(f"fetch failed: {run.error} (run #{run.pk})")
        self.stdout.write(f"{label}: {_counts_summary(run)} (run #{run.pk})")
        if run.error:  # a succeeded run's caveat, such as a truncated result
            self._warn(f"{label}: {run.error} (run #{run.pk})")
        return run

    def _backfill(self, source: str, fetch: FetchDay, *, since: dt.date, until: dt.date) -> None:
        """One run per day, so a failed day fails alone; a progress bar on stderr."""
        days = [since + dt.timedelta(days=offset) for offset in range((until - since).days + 1)]
        totals = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
        failures: list[str] = []
        caveats: list[str] = []
        # tqdm redraws with "\r": it needs the raw stream, not Django's line-ending OutputWrapper.
        stream = getattr(self.stderr, "_out", self.stderr)
        for day in tqdm(
            days, desc=f"{source} backfill", unit="day", file=stream, dynamic_ncols=True
        ):
            try:
                run = fetch(day)
            except Exception as exc:
                failures.append(f"{day}: {error_line(exc)}")
                continue
            if run.status == FetchRun.Status.FAILED:
                failures.append(f"{day}: {run.error} (run #{run.pk})")
                continue
            if run.error:
                caveats.append(f"{source} {day}: {run.error} (run #{run.pk})")
            for name in totals:
                totals[name] += getattr(run, name)
        label = _run_label(source, since=since, until=until)
        summary = ", ".join(f"{value} {name}" for name, value in totals.items())
        self.stdout.write(
            f"{label}: {summary} ({len(days) - len(failures)} of {len(days)} days fetched)"
        )
        # After the bar, not through it: each caveat stays readable on a line of its own.
        for caveat in caveats:
            self._warn(caveat)
        if failures:
            raise CommandError(
                f"fetch failed for {len(failures)} of {len(days)} days; first: {failures[0]}"
            )

    def _warn(self, message: str) -> None:
        self.stderr.write(self.style.WARNING(f"warning: {message}"))


def _categories_checked(given: list[str] | None) -> list[str]:
    """The arXiv categories asked for (else the configured ones), each checked against CATEGORY."""
    for category in given or []:
        if len(category) > MAX_CATEGORY or not CATEGORY.fullmatch(category):
            shown = category[:MAX_CATEGORY]
            raise CommandError(
                f"--category {shown!r} is not an arXiv category: "
                "use one like cs.CV, hep-th or math.AP"
            )
    return list(dict.fromkeys(given)) if given else list(settings.PAPERBOY_ARXIV_CATEGORIES)


def _dates_checked(
    options: dict[str, Any],
) -> tuple[dt.date | None, dt.date | None, dt.date | None]:
    """(date, since, until) from the options, checked; a range without --until ends today (UTC)."""
    date, since, until = (_parse_date(options[name], name) for name in ("date", "since", "until"))
    if date and (since or until):
        raise CommandError("give either --date or --since/--until, not both")
    if until and not since:
        raise CommandError("--until needs --since")
    if since:
        until = until or dt.datetime.now(dt.UTC).date()
        if since > until:
            raise CommandError(f"--since {since} is after --until {until}")
        if (until - since).days + 1 > MAX_RANGE_DAYS:
            raise CommandError(
                f"a range covers at most {MAX_RANGE_DAYS} days; {since}..{until} is longer"
            )
    return date, since, until


def _parse_date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name} {value[:40]!r} is not a date: use YYYY-MM-DD") from None
    # Tomorrow is allowed: it is already today east of UTC, and HF dates its lists that way.
    latest = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    if not ARXIV_OPENED <= date <= latest:
        raise CommandError(
            f"--{name} {date} is out of range: give a day from {ARXIV_OPENED} to {latest}"
        )
    return date


def _run_label(
    source: str,
    *,
    date: dt.date | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> str:
    if since and until:
        return f"{source} {since}..{until}"
    return f"{source} {date or 'today'}"


def _counts_summary(run: FetchRun) -> str:
    return (
        f"{run.created} created, {run.updated} updated, "
        f"{run.unchanged} unchanged, {run.skipped} skipped"
    )


@contextmanager
def _logs_quiet(*, unless: bool) -> Iterator[None]:
    """Only errors from the papers loggers while the command runs (they repeat its own output)."""
    logger = logging.getLogger("papers")
    level = logger.level
    if not unless:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
