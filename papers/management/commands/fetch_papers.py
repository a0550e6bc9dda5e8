"""Fetch papers from a source (or load a saved response) and print what changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from papers.models import FetchRun
from papers.services import (
    error_line,
    papers_fetch_arxiv,
    papers_fetch_hf,
    papers_fetch_hf_html,
    papers_load_file,
)

MAX_RANGE_DAYS = 366
SOURCES = ("hf", "hf-html", "arxiv")


class Command(BaseCommand):
    help = (
        "Fetch papers: --source hf|hf-html|arxiv for today, one --date, or a --since/--until backfill "
        "(one run per day for HF); or --from-file PATH to load a saved HF JSON/HTML or arXiv Atom/RSS response."
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
            help="arXiv category, repeatable (default: PAPERBOY_ARXIV_CATEGORIES)",
        )
        parser.add_argument("--from-file", dest="from_file", help="load a saved response; its format is detected")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["from_file"]:
            self._from_file(options)
            return
        source = options["source"]
        if not source:
            raise CommandError("give --source hf|hf-html|arxiv or --from-file PATH")
        if options["categories"] and source != "arxiv":
            raise CommandError("--category only applies to --source arxiv")
        date, since, until = _dates(options)
        if source == "arxiv":
            categories = options["categories"] or list(settings.PAPERBOY_ARXIV_CATEGORIES)
            label = _label("arxiv", date=date, since=since, until=until)
            start, end = (date, date) if date else (since, until)
            self._run(label, lambda: papers_fetch_arxiv(categories=categories, since=start, until=end))
        elif since:
            self._backfill(source, since=since, until=until)
        else:
            fetch = papers_fetch_hf if source == "hf" else papers_fetch_hf_html
            # HF's API wants a day: "today" is the current UTC day, as the hourly task uses.
            day = date or (dt.datetime.now(dt.UTC).date() if source == "hf" else None)
            self._run(_label(source, date=day), lambda: fetch(date=day))

    def _from_file(self, options: dict[str, Any]) -> None:
        given = [name for name in ("source", "date", "since", "until", "categories") if options[name]]
        if given:
            raise CommandError(f"--from-file cannot be combined with --{given[0]}")
        path = Path(options["from_file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        self._run(f"file {path.name}", lambda: papers_load_file(path=path))

    def _run(self, label: str, execute: Callable[[], FetchRun]) -> FetchRun:
        try:
            run = execute()
        except Exception as exc:
            # The run is already marked failed; the operator needs the reason, not a traceback.
            raise CommandError(f"fetch failed: {error_line(exc)}") from exc
        if run.status == FetchRun.Status.FAILED:
            raise CommandError(f"fetch failed: {run.error} (run #{run.pk})")
        self.stdout.write(f"{label}: {_summary(run)} (run #{run.pk})")
        return run

    def _backfill(self, source: str, *, since: dt.date, until: dt.date) -> None:
        """One run per day, so a failed day fails alone; a progress bar on stderr."""
        fetch = papers_fetch_hf if source == "hf" else papers_fetch_hf_html
        days = [since + dt.timedelta(days=offset) for offset in range((until - since).days + 1)]
        totals = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
        failures: list[str] = []
        # tqdm redraws with "\r": it needs the raw stream, not Django's line-ending OutputWrapper.
        stream = getattr(self.stderr, "_out", self.stderr)
        for day in tqdm(days, desc=f"{source} backfill", unit="day", file=stream, dynamic_ncols=True):
            try:
                run = fetch(date=day)
            except Exception as exc:
                failures.append(f"{day}: {error_line(exc)}")
                continue
            if run.status == FetchRun.Status.FAILED:
                failures.append(f"{day}: {run.error} (run #{run.pk})")
                continue
            for name in totals:
                totals[name] += getattr(run, name)
        label = _label(source, since=since, until=until)
        summary = ", ".join(f"{value} {name}" for name, value in totals.items())
        self.stdout.write(f"{label}: {summary} ({len(days) - len(failures)} of {len(days)} days fetched)")
        if failures:
            raise CommandError(f"fetch failed for {len(failures)} of {len(days)} days; first: {failures[0]}")


def _dates(options: dict[str, Any]) -> tuple[dt.date | None, dt.date | None, dt.date | None]:
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
            raise CommandError(f"a range covers at most {MAX_RANGE_DAYS} days; {since}..{until} is longer")
    return date, since, until


def _parse_date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name} {value!r} is not a date: use YYYY-MM-DD") from None


def _label(
    source: str, *, date: dt.date | None = None, since: dt.date | None = None, until: dt.date | None = None
) -> str:
    if since and until:
        return f"{source} {since}..{until}"
    return f"{source} {date or 'today'}"


def _summary(run: FetchRun) -> str:
    return f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, {run.skipped} skipped"
