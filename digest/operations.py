"""What needs a person, for the admin's operations page: one bounded query per kind of item.

Paused issues, stuck claims (a batch that died holding its rows), failed deliveries of the
last week's issues, sources whose latest fetch failed, and addresses the provider suppressed in
the last week. Each item is what it is now: once resolved (resumed, recovered, fetched,
re-subscribed) it is no longer listed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Max, Min

from digest.models import Delivery, DeliveryStatus, Issue, IssueKind
from papers.models import FetchRun
from subscriptions.models import Subscriber

RECENT_DAYS = 7  # failed deliveries and suppressed addresses this recent are listed
SUPPRESSED_SHOWN = 50  # addresses listed; the link to the filtered list has them all
SUPPRESSED = (Subscriber.Status.BOUNCED, Subscriber.Status.COMPLAINED)


@dataclass(frozen=True)
class IssueRows:
    """Some deliveries of one issue: how many, and the time of the oldest (claim) or last one."""

    issue_id: int
    issue_date: dt.date
    issue_kind: str
    count: int
    at: dt.datetime | None
    error: str = ""

    @property
    def issue_name(self) -> str:
        return f"{IssueKind(self.issue_kind).label} issue of {self.issue_date:%Y-%m-%d}"


@dataclass(frozen=True)
class Operations:
    """Everything the operations page lists, each kind oldest problem first."""

    paused: list[Issue]
    stuck: list[IssueRows]
    failed: list[IssueRows]
    fetches: list[FetchRun]
    suppressed: list[Subscriber]
    suppressed_total: int

    @property
    def count(self) -> int:
        return (
            len(self.paused)
            + len(self.stuck)
            + len(self.failed)
            + len(self.fetches)
            + self.suppressed_total
        )


def operations_list(*, now: dt.datetime) -> Operations:
    """What needs a person now: six queries, whatever the size of the ledger."""
    suppressed = Subscriber.objects.filter(
        status__in=SUPPRESSED, updated_at__gte=now - dt.timedelta(days=RECENT_DAYS)
    )
    return Operations(
        paused=list(Issue.objects.filter(paused_at__isnull=False).order_by("paused_at")),
        stuck=deliveries_stuck(now=now),
        failed=deliveries_failed_recent(now=now),
        fetches=fetch_runs_failing(),
        suppressed=list(suppressed.order_by("-updated_at")[:SUPPRESSED_SHOWN]),
        suppressed_total=suppressed.count(),
    )


def deliveries_stuck(*, now: dt.datetime) -> list[IssueRows]:
    """Claims older than PAPERBOY_CLAIM_TIMEOUT_MINUTES, by issue (over the (status, claimed_at)
    index: only rows in flight are read)."""
    cutoff = now - dt.timedelta(minutes=settings.PAPERBOY_CLAIM_TIMEOUT_MINUTES)
    rows = (
        Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=cutoff)
        .order_by()
        .values_list("issue_id", "issue__date", "issue__kind")
        .annotate(count=Count("pk"), at=Min("claimed_at"))
        .order_by("at")
    )
    return [IssueRows(*row) for row in rows]


def deliveries_failed_recent(*, now: dt.datetime) -> list[IssueRows]:
    """Failed deliveries of the issues dated in the last RECENT_DAYS, by issue, with an error.

    The issues are found first (a handful), then their failed rows over the (issue, status)
    index, never by a scan of the ledger's failures of all time.
    """
    since = (now - dt.timedelta(days=RECENT_DAYS)).date()
    rows = (
        Delivery.objects.filter(
            issue__in=Issue.objects.filter(date__gte=since).values("pk"),
            status=DeliveryStatus.FAILED,
        )
        .order_by()
        .values_list("issue_id", "issue__date", "issue__kind")
        .annotate(count=Count("pk"), at=Max("updated_at"), error=Max("error"))
        .order_by("issue__date", "issue__kind")
    )
    return [IssueRows(*row) for row in rows]


def fetch_runs_failing() -> list[FetchRun]:
    """Each source's latest finished run, where it failed: the source is failing now."""
    latest = (
        FetchRun.objects.exclude(status=FetchRun.Status.RUNNING)
        .order_by()
        .values("source")
        .annotate(last=Max("pk"))
        .values("last")
    )
    return list(
        FetchRun.objects.filter(pk__in=latest, status=FetchRun.Status.FAILED).order_by("source")
    )
