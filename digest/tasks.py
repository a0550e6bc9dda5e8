"""Worker tasks: thin, taking ids, calling services (the hourly tick, one batch, embeddings)."""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
from collections.abc import Iterable
from typing import Any, TypedDict
from uuid import UUID

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from config import health, metrics
from digest import (
    ledger,
    profiles,
    retention,
    selectors,
    send_limits,
    sending,
    services,
    transport,
    vectors,
)
from digest.models import Issue
from papers.models import Paper
from subscriptions.emails import TransientSendError

logger = logging.getLogger(__name__)

# The retry after a provider failure: exponential with full jitter, capped well inside the claim
# timeout.
RETRY_BASE_SECONDS = 10
RETRY_CAP_SECONDS = 300


def retry_delay(attempt: int) -> float:
    """Seconds before a batch's retry number `attempt` (1, 2, …): full jitter, capped.

    Random in [0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2^attempt)].
    """
    return random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt))


@shared_task(acks_late=True, bind=True, max_retries=ledger.MAX_ATTEMPTS)
@metrics.batch_timed
def send_batch(self: Task[Any, Any], issue_id: int, claim: str | None = None) -> dict[str, int]:
    """Claim one batch of an issue's deliveries (or take back `claim` to retry it) and send it."""
    result = sending.deliveries_send_batch(issue_id=issue_id, claim=UUID(claim) if claim else None)
    if result.wait is not None:
        # The rate's turn was further than a claim may wait: the rows went back to the queue, and
        # a new batch takes them then (not a retry: they spent no attempt). The day's cap sets no
        # wait: the hourly tick queues the issue again, so nothing spins until the next UTC day.
        send_batch.apply_async(args=(issue_id,), countdown=max(result.wait, 1.0))
    if result.retry is not None:
        retries = getattr(self.request, "retries", 0)
        raise self.retry(
            kwargs={"issue_id": issue_id, "claim": str(result.retry.claim)},
            # A receiver's Retry-After (a channel's 429) is honoured, within the same cap.
            countdown=max(
                retry_delay(retries + 1), min(result.retry.retry_after or 0.0, RETRY_CAP_SECONDS)
            ),
            exc=TransientSendError(result.retry.reason),
        )
    return {
        "claimed": result.claimed,
        "sent": result.sent,
        "failed": result.failed,
        "skipped": result.skipped,
        "held": result.held,
    }


def batches_enqueue(*, issue_ids: Iterable[int]) -> int:
    """Queue enough batch tasks for every queued delivery of these issues; how many were queued."""
    # As big as the batches will claim: with a rate, a batch claims at most the rate.
    size = send_limits.batch_size_fit(transport.batch_size_default())
    total = 0
    for issue_id in issue_ids:
        count = math.ceil(selectors.delivery_count_queued(issue_id=issue_id) / size)
        for _ in range(count):
            _batch_enqueue_on_commit(issue_id=issue_id)
        total += count
    return total


def _batch_enqueue_on_commit(*, issue_id: int) -> None:
    """Queue one batch task of the issue on commit (robust: a broker that is down is logged)."""
    transaction.on_commit(lambda: send_batch.delay(issue_id), robust=True)


@shared_task(acks_late=True)
def tick() -> dict[str, int]:
    """The hourly beat: build issues, recover stuck claims, make readers due, queue batches."""
    now = timezone.now()
    plan = services.tick_prepare(now=now)
    batches = batches_enqueue(issue_ids=plan.issue_ids_to_send)
    closed = ledger.issues_close(now=now)
    summary = {
        "due": sum(plan.made_due.values()),
        "requeued": plan.requeued,
        "failed": plan.failed,
        "batches": batches,
    }
    logger.info("digest tick", extra={**summary, "closed": closed})
    health.tick_record(now=now)
    return summary


@shared_task(acks_late=True)
def ledger_prune() -> dict[str, int]:
    """The nightly pruning of the ledger (digest.retention): figures kept, old rows deleted."""
    result = retention.ledger_prune(now=timezone.now())
    return {
        "issues_kept": result.issues_kept,
        "rows_deleted": result.rows_deleted,
        "issues_pruned": result.issues_pruned,
    }


@shared_task(acks_late=True)
def issue_send_now(issue_id: int) -> int:
    """ "Send now" from the admin: all deliverable readers of the issue's kind made due and sent."""
    issue = Issue.objects.get(pk=issue_id)
    count = ledger.deliveries_create_all(issue=issue, now=timezone.now())
    batches_enqueue(issue_ids=[issue_id])
    return count


class EmbedTaskOptions(TypedDict):
    """The options the embedding tasks share, typed so that shared_task(**options) type-checks."""

    acks_late: bool
    autoretry_for: tuple[type[BaseException], ...]
    retry_backoff: bool
    retry_jitter: bool
    max_retries: int


# Embedding retries only what can pass (the database or the disk for a moment); the model is local.
EMBED_TASK_OPTIONS: EmbedTaskOptions = {
    "acks_late": True,
    "autoretry_for": (OSError,),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 3,
}


@shared_task(**EMBED_TASK_OPTIONS)
def papers_embed_since(since: str) -> int:
    """Embed (once) the papers an ingest created or changed since `since`: sending reads vectors."""
    since_time = dt.datetime.fromisoformat(since)
    return _papers_embed_missing(Paper.objects.filter(last_seen_at__gte=since_time))


@shared_task(**EMBED_TASK_OPTIONS)
def interests_embed(interests: str) -> int:
    """Embed (once) the facets of a reader's new interests text."""
    return vectors.interests_texts_store(interests=[interests])


@shared_task(**EMBED_TASK_OPTIONS)
def papers_embed(arxiv_ids: list[str]) -> int:
    """Embed (once) these papers, e.g. an issue's candidates a preview found without vectors."""
    return _papers_embed_missing(Paper.objects.filter(arxiv_id__in=arxiv_ids))


def _papers_embed_missing(papers: QuerySet[Paper]) -> int:
    """Embed the papers with no stored vector yet (the others cost a lookup); how many papers."""
    chosen = list(papers)
    vectors.papers_vectors(papers=chosen)
    return len(chosen)


def profile_refresh_later(*, subscriber_id: int) -> None:
    """Have the worker refit the reader's profile once the change that calls this has committed.

    Called where a reader's signals change: the vote and signals views, and the receivers of
    what subscriptions announces (seeds, "less of this", interests).
    """
    if settings.PAPERBOY_LEARN_ON_CHANGE:
        transaction.on_commit(lambda: reader_profile_refresh.delay(subscriber_id), robust=True)


@shared_task(**EMBED_TASK_OPTIONS)
def reader_profile_refresh(subscriber_id: int) -> float:
    """Refit what the ranking learned of a reader after their votes, seeds or texts changed."""
    profile = profiles.profile_refresh(subscriber_id=subscriber_id)
    return profile.signals if profile is not None else 0.0
