"""Reads for the admin's charts: readers over time, issues' figures and votes, fetch health.

Every read is bounded: a window of days, or the latest issues. The ledger (millions of rows) is
read only for the few issues still going out, over its (issue, status) index; sent issues give
the figures they keep (digest.selectors.issue_counts_by_id).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, DateField, DateTimeField, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from digest.models import Issue, IssueStatus, Vote, VoteDirection
from digest.selectors import issue_counts_by_id
from papers.models import FetchRun
from subscriptions.models import Subscriber, SubscriptionStat

Status = Subscriber.Status

# The readers' states drawn over time, in the legend's order.
READER_STATES: dict[str, str] = {
    "pending": "Pending",
    "active": "Active",
    "paused": "Paused",
    "unsubscribed": "Unsubscribed",
    "suppressed": "Suppressed",
}
_LATER_STATE = {
    Status.PAUSED: "paused",
    Status.UNSUBSCRIBED: "unsubscribed",
    Status.BOUNCED: "suppressed",
    Status.COMPLAINED: "suppressed",
}
# The figures drawn per issue, from issue_counts_by_id's names.
ISSUE_FIGURES: dict[str, str] = {
    "sent": "Sent",
    "delivered": "Delivered",
    "opened": "Opened",
    "clicked": "Clicked",
    "bounced": "Bounced",
    "complained": "Complained",
}


@dataclass(frozen=True)
class DaySeries:
    """Figures per day: days, oldest first, and a list of values (one per day) per series name."""

    days: list[dt.date]
    series: dict[str, list[int]]


@dataclass(frozen=True)
class IssueFigures:
    """The latest issues, oldest first, with their delivery figures and their votes."""

    issues: list[Issue]
    counts: dict[int, dict[str, int]]
    votes: dict[int, tuple[int, int]]  # issue id: (more, less)


def window_days(*, today: dt.date, days: int) -> list[dt.date]:
    """The `days` days up to today, oldest first."""
    return [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]


def _day_or_before(field: str, start: dt.datetime, before: dt.date) -> Case:
    """The field's day (in the current time zone); every time before `start` is the day `before`.

    So the GROUP BY gives few groups however long the table's history is.
    """
    return Case(
        When(**{f"{field}__lt": start}, then=Value(before)),
        default=TruncDate(field),
        output_field=DateField(),
    )


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def readers_by_day(*, today: dt.date, days: int) -> tuple[DaySeries, DaySeries]:
    """Readers by state at the end of each day, and sign-ups and unsubscribes per day.

    One GROUP BY over subscribers (a scan of the table, days-bounded groups). No status history
    is stored, so it is read off the timestamps: pending from created_at, active from
    confirmed_at, unsubscribed from unsubscribed_at; paused and suppressed readers are dated by
    their row's last change (updated_at). Deleted readers left only a count of deletions
    (SubscriptionStat); their sign-ups and states are gone. Team channels are not readers here.
    """
    dates = window_days(today=today, days=days)
    before = dates[0] - dt.timedelta(days=1)
    start = _start_of(dates[0])
    later = Case(
        When(status=Status.UNSUBSCRIBED, then=Coalesce("unsubscribed_at", "updated_at")),
        When(status__in=(Status.PAUSED, Status.BOUNCED, Status.COMPLAINED), then=F("updated_at")),
        output_field=DateTimeField(),
    )
    rows = (
        Subscriber.objects.exclude(via=Subscriber.Via.CHANNEL)
        .filter(created_at__lt=_start_of(today + dt.timedelta(days=1)))
        .annotate(later_at=later)
        .order_by()
        .values(
            "status",
            born=_day_or_before("created_at", start, before),
            confirmed=_day_or_before("confirmed_at", start, before),
            changed=_day_or_before("later_at", start, before),
        )
        .annotate(n=Count("pk"))
    )
    states = {key: [0] * days for key in READER_STATES}
    flow = {"Sign-ups": [0] * days, "Unsubscribes": [0] * days, "Deletions": [0] * days}
    index = {day: n for n, day in enumerate(dates)}
    for row in rows:
        _reader_row_count(row, dates, states)
        if row["born"] in index:
            flow["Sign-ups"][index[row["born"]]] += row["n"]
        if row["status"] == Status.UNSUBSCRIBED and row["changed"] in index:
            flow["Unsubscribes"][index[row["changed"]]] += row["n"]
    deleted = SubscriptionStat.objects.filter(
        kind=SubscriptionStat.Kind.DELETED, day__gte=dates[0], day__lte=today
    )
    for day, count in deleted.values_list("day", "count"):
        flow["Deletions"][index[day]] += count
    labelled = {READER_STATES[key]: values for key, values in states.items()}
    return DaySeries(dates, labelled), DaySeries(dates, flow)


def _reader_row_count(
    row: dict[str, Any], dates: list[dt.date], states: dict[str, list[int]]
) -> None:
    """Add a group of readers to the state they were in at the end of each day."""
    status, born, changed = row["status"], row["born"], row["changed"]
    confirmed = row["confirmed"] or (born if status == Status.ACTIVE else None)
    later = _LATER_STATE.get(status)
    for n, day in enumerate(dates):
        if born > day:
            continue
        if later is not None and changed is not None and changed <= day:
            state = later
        elif confirmed is not None and confirmed <= day:
            state = "active"
        else:
            state = "pending"
        states[state][n] += row["n"]


def issue_figures_latest(*, limit: int) -> IssueFigures:
    """The latest `limit` issues that went out, with their figures and votes: three queries.

    The votes are those still tied to a delivery: pruning an issue's ledger rows
    (digest.retention) unties its votes, which stay the readers'.
    """
    latest = (
        Issue.objects.filter(status__in=(IssueStatus.SENDING, IssueStatus.SENT))
        .only("date", "kind", "status", "counts_kept")
        .order_by("-date", "kind")
    )
    issues = list(reversed(latest[:limit]))
    if not issues:
        return IssueFigures([], {}, {})
    rows = (
        Vote.objects.filter(delivery__issue_id__in=[issue.pk for issue in issues])
        .order_by()
        .values_list("delivery__issue_id")
        .annotate(
            more=Count("pk", filter=Q(direction=VoteDirection.MORE)),
            less=Count("pk", filter=Q(direction=VoteDirection.LESS)),
        )
    )
    votes = {issue_id: (more, less) for issue_id, more, less in rows}
    return IssueFigures(issues, issue_counts_by_id(issues=issues), votes)


def fetch_health_by_day(*, today: dt.date, days: int) -> DaySeries:
    """Fetch runs that succeeded and failed attempts per day (a failed run counts its repeats)."""
    dates = window_days(today=today, days=days)
    rows = (
        FetchRun.objects.filter(
            started_at__gte=_start_of(dates[0]),
            started_at__lt=_start_of(today + dt.timedelta(days=1)),
        )
        .exclude(status=FetchRun.Status.RUNNING)
        .order_by()
        .values_list(TruncDate("started_at"), "status")
        .annotate(runs=Count("pk"), attempts=Sum("failures"))
    )
    series: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    index = {day: n for n, day in enumerate(dates)}
    for day, status, runs, attempts in rows:
        if status == FetchRun.Status.FAILED:
            series["Failed attempts"][index[day]] += max(attempts or 0, runs)
        else:
            series["Succeeded"][index[day]] += runs
    return DaySeries(dates, {name: series[name] for name in ("Succeeded", "Failed attempts")})
