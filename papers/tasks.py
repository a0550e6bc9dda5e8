"""Scheduled fetches: thin Celery tasks over papers.services (beat schedule in config/celery.py)."""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from celery import shared_task
from django.conf import settings

from papers.services import papers_fetch_arxiv, papers_fetch_hf_days
from papers.sources.http import TransientFetchError
from papers.thumbnails import thumbnails_fetch_due


class RetryOptions(TypedDict):
    """The options of shared_task that every fetch task takes, typed so mypy checks them."""

    acks_late: bool
    autoretry_for: tuple[type[BaseException], ...]
    retry_backoff: bool | int  # seconds: the first retry's longest wait, doubling after
    retry_backoff_max: int
    retry_jitter: bool
    max_retries: int
    throws: tuple[type[Exception], ...]


# Only transient trouble (network, timeouts, 429, 5xx) is worth another try; a malformed
# response is recorded as a failed FetchRun and retrying would only fail the same way.
# The retries wait up to 1, 2, 4, 8 and 10 minutes (full jitter): a source that is down, or a
# machine that is offline, is not asked again every few seconds.
# `throws`: giving up on a transient failure is expected, so Celery logs it as one INFO line,
# not as an ERROR with the five chained tracebacks of requests and urllib3; the FetchRun
# already holds the reason, and its service logged it once.
RETRY: RetryOptions = {
    "acks_late": True,
    "autoretry_for": (TransientFetchError,),
    "retry_backoff": 60,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
    "throws": (TransientFetchError,),
}


@shared_task(**RETRY)
def fetch_hf_today() -> list[int]:
    """Refresh today's and yesterday's (UTC) HF Daily Papers, the API or else the HTML pages.

    Upvotes keep coming after midnight, and just after it today's list is still empty: without
    yesterday, its last hours of upvotes would be lost. A transient failure of either day retries
    both (fetching a good day again only refreshes it). Returns the FetchRun ids, today's first.
    """
    today = dt.datetime.now(dt.UTC).date()
    return [run.pk for run in papers_fetch_hf_days(dates=[today, today - dt.timedelta(days=1)])]


@shared_task(**RETRY)
def fetch_arxiv_today() -> int:
    """Today's arXiv announcements for the configured categories. Returns the FetchRun id."""
    return papers_fetch_arxiv(categories=list(settings.PAPERBOY_ARXIV_CATEGORIES)).pk


@shared_task(**RETRY)
def fetch_papers_by_id(arxiv_ids: list[str]) -> int:
    """Fetch these papers again from the arXiv API (an admin action). Returns the FetchRun id."""
    return papers_fetch_arxiv(categories=[], ids=list(arxiv_ids)).pk


@shared_task(acks_late=True)
def thumbnails_fetch() -> int:
    """Fetch and store the thumbnails of papers that have none yet. Returns how many were stored.

    Failures are stored on each thumbnail (papers.thumbnails), so nothing here is retried.
    """
    return thumbnails_fetch_due().stored
