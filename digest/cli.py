"""Argument parsing shared by the digest's management commands: one clear line per bad value."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from digest.models import Issue, IssueKind
from subscriptions.seeds import SeedError, ids_parse

EARLIEST = dt.date(2020, 1, 1)


def date_parse(raw: str, *, option: str = "--date") -> dt.date:
    """A YYYY-MM-DD date between 2020 and next year, or CommandError."""
    try:
        day = dt.date.fromisoformat(raw.strip())
    except (ValueError, AttributeError):
        raise CommandError(f"{option} must be YYYY-MM-DD, got {raw!r}") from None
    latest = dt.date.today() + dt.timedelta(days=366)
    if not EARLIEST <= day <= latest:
        raise CommandError(f"{option} must be between {EARLIEST} and {latest}, got {day}")
    return day


def datetime_parse(raw: str, *, option: str = "--now") -> dt.datetime:
    """An ISO 8601 date-time (UTC unless it says otherwise), or CommandError."""
    try:
        when = dt.datetime.fromisoformat(raw.strip())
    except (ValueError, AttributeError):
        raise CommandError(
            f"{option} must be an ISO 8601 date-time like 2026-11-25T08:00, got {raw!r}"
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    latest = dt.date.today() + dt.timedelta(days=366)
    try:
        day = when.astimezone(dt.UTC).date()
    except OverflowError:
        day = dt.date.min
    if not EARLIEST <= day <= latest:
        raise CommandError(f"{option} must be between {EARLIEST} and {latest}, got {raw.strip()!r}")
    return when


def kind_parse(raw: str) -> str:
    if raw not in IssueKind.values:
        raise CommandError(f"--kind must be one of {', '.join(IssueKind.values)}, got {raw!r}")
    return raw


def issue_find(*, issue_id: str | None, date: str | None, kind: str) -> Issue:
    """The issue named by --issue ID, or by --date and --kind; CommandError if there is none."""
    if bool(issue_id) == bool(date):
        raise CommandError("give either --issue ID or --date YYYY-MM-DD")
    if issue_id:
        if not issue_id.isdigit() or len(issue_id) > 18:
            raise CommandError(f"--issue must be an issue's number, got {issue_id!r}")
        issue = Issue.objects.filter(pk=int(issue_id)).first()
        if issue is None:
            raise CommandError(f"there is no issue #{issue_id}")
        return issue
    day = date_parse(date or "")
    issue = Issue.objects.filter(date=day, kind=kind_parse(kind)).first()
    if issue is None:
        raise CommandError(
            f"there is no {kind} issue of {day}: "
            f"build it first (manage.py build_issue --date {day})"
        )
    return issue


def progress(total: int, *, desc: str, **kwargs: Any) -> tqdm[Any]:
    """A progress bar on stderr (tqdm redraws with "\\r", so it needs the raw stream)."""
    return tqdm(
        total=total, desc=desc, unit="digest", file=sys.stderr, dynamic_ncols=True, **kwargs
    )


def file_read(path: str, *, option: str, max_bytes: int) -> bytes:
    """The bytes of the file an option names, at most `max_bytes` of them, or CommandError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise CommandError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise CommandError(
            f"{option}: {path} is too large (the limit is {max_bytes / 1024 / 1024:g} MB)"
        )
    return data


def arxiv_ids_parse(values: list[str], *, option: str) -> list[str]:
    """The versionless arXiv ids given to an option (ids or links), or CommandError."""
    try:
        return ids_parse(" ".join(values))
    except SeedError as exc:
        raise CommandError(f"{option}: {exc}") from None
