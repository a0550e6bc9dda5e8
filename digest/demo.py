"""`make demo`: two demo readers and the latest sample day's daily and weekly issues, sent to them.

A newcomer's first digest without guesswork: after `make demo` the outbox (var/outbox/ in
development) holds a real daily and a real weekly digest, ranked for each demo reader's interests.
Running it again sends nothing twice (the ledger's unique row per issue and reader).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from digest import ledger, services
from digest.models import Issue, IssueKind
from digest.selectors import issue_readers
from papers.selectors import paper_latest_day
from subscriptions.models import Subscriber, SubscriberFrequency, SubscriberStatus


@dataclass(frozen=True)
class DemoReader:
    email: str
    frequency: str
    interests: str


# Addresses under .localhost never leave the machine (RFC 6761), whatever the email backend.
DEMO_READERS = (
    DemoReader(
        email="daily-reader@demo.localhost",
        frequency=SubscriberFrequency.DAILY,
        interests="video generation and diffusion models; efficient LLM inference",
    ),
    DemoReader(
        email="weekly-reader@demo.localhost",
        frequency=SubscriberFrequency.WEEKLY,
        interests="reinforcement learning for LLM reasoning; AI agents and tool use",
    ),
)


class DemoError(Exception):
    """The demo cannot run (no papers stored)."""


@dataclass
class DemoResult:
    readers: list[Subscriber] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    # Per issue: (readers made due now, the issue's kind) — 0 when already sent to them before.
    made_due: dict[int, int] = field(default_factory=dict)
    empty: list[str] = field(default_factory=list)  # why an issue could not be built


def demo_readers_ensure(*, now: dt.datetime) -> list[Subscriber]:
    """The demo readers, created confirmed (or made active again) with their demo preferences."""
    readers = []
    for demo in DEMO_READERS:
        reader, _ = Subscriber.objects.update_or_create(
            email=demo.email,
            defaults={
                "frequency": demo.frequency,
                "interests": demo.interests,
                "status": SubscriberStatus.ACTIVE,
                "confirmed_at": now,
                "unsubscribed_at": None,
            },
        )
        readers.append(reader)
    return readers


def demo_date(*, now: dt.datetime) -> dt.date:
    """The issue date that covers the newest stored papers: the day after the latest listed day."""
    latest = paper_latest_day(now=now)
    if latest is None:
        raise DemoError("no papers are stored: load the sample first (make sample)")
    return latest + dt.timedelta(days=1)


def demo_prepare(*, now: dt.datetime | None = None) -> DemoResult:
    """Ensure the demo readers and the issues, and make each demo reader due for its issue."""
    now = now or timezone.now()
    date = demo_date(now=now)
    result = DemoResult()
    with transaction.atomic():
        result.readers = demo_readers_ensure(now=now)
        for kind in (IssueKind.DAILY, IssueKind.WEEKLY):
            try:
                issue = services.issue_build(date=date, kind=kind)
            except services.IssueEmptyError as error:
                result.empty.append(str(error))
                continue
            if issue.status == Issue.Status.DRAFT:
                services.issue_schedule(issue=issue)
                issue.refresh_from_db()
            result.issues.append(issue)
            # Of the readers this issue is for (its kind's, deliverable), only the demo's.
            readers = issue_readers(issue=issue).filter(pk__in=[r.pk for r in result.readers])
            result.made_due[issue.pk] = ledger.deliveries_create_for(
                issue=issue, readers=readers, now=now
            )
    return result
