"""Worker tasks: thin, taking ids, calling services (the hourly tick, one batch, embeddings)."""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
from collections.abc import Iterable
from uuid import UUID

from celery import shared_task
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from digest import ledger, selectors, sending, services, transport, vectors
from digest.models import Issue
from papers.models import Paper
from subscriptions.emails import TransientSendError

logger = logging.getLogger(__name__)

# The retry after a provider failure: exponential with full jitter, capped well inside the claim timeout.
RETRY_BASE_SECONDS = 10
RETRY_CAP_SECONDS = 300


def retry_delay(attempt: int) -> float:
    """Seconds before retry number `attempt` (1, 2, …) of a batch: random in [0, min(cap, base * 2^attempt)]."""
    return random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt))  # noqa: S311 (jitter)


@shared_task(acks_late=True, bind=True, max_retries=ledger.MAX_ATTEMPTS)
def send_batch(self: object, issue_id: int, claim: str | None = None) -> dict[str, int]:
    """Claim one batch of an issue's deliveries (or take back `claim` to retry it) and send it."""
    result = sending.deliveries_send_batch(issue_id=issue_id, claim=UUID(claim) if claim else None)
    if result.retry is not None:
        retries = getattr(self.request, "retries", 0)  # type: ignore[attr-defined]
        raise self.retry(  # type: ignore[attr-defined]
            kwargs={"issue_id": issue_id, "claim": str(result.retry.claim)},
            countdown=retry_delay(retries + 1),
            exc=TransientSendError(result.retry.reason),
        )
    return {
        "claimed": result.claimed,
        "sent": result.sent,
        "failed": result.failed,
        "skipped": result.skipped,
    }


def batches_enqueue(*, issue_ids: Iterable[int]) -> int:
    """Queue enough batch tasks to take every queued delivery of these issues; how many were queued."""
    size = transport.batch_size_default()
    total = 0
    for issue_id in issue_ids:
        count = math.ceil(selectors.delivery_count_queued(issue_id=issue_id) / size)
        for _ in range(count):
            transaction.on_commit(lambda issue_id=issue_id: send_batch.delay(issue_id), robust=True)
        total += count
    return total


@shared_task(acks_late=True)
def tick() -> dict[str, int]:
    """The hourly beat: build today's issue, recover stuck claims, make readers due, fan out batches."""
    now = timezone.now()
    plan = services.tick_prepare(now=now)
    batches = batches_enqueue(issue_ids=plan.waiting)
    closed = ledger.issues_close(now=now)
    summary = {
        "due": sum(plan.created.values()),
        "requeued": plan.requeued,
        "failed": plan.failed,
        "batches": batches,
    }
    logger.info("digest tick", extra={**summary, "closed": closed})
    return summary


@shared_task(acks_late=True)
def issue_send_now(issue_id: int) -> int:
    """ "Send now" from the admin: every deliverable reader of the issue's kind is made due and batches go out."""
    issue = Issue.objects.get(pk=issue_id)
    count = ledger.deliveries_create_all(issue=issue, now=timezone.now())
    batches_enqueue(issue_ids=[issue_id])
    return count


# Embedding retries only what can pass (the database or the disk for a moment); the model is local.
EMBED = {
    "acks_late": True,
    "autoretry_for": (OSError,),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 3,
}


@shared_task(**EMBED)
def papers_embed_since(since: str) -> int:
    """Embed (once) the papers an ingest created or changed since `since`, so that sending only reads vectors."""
    return _papers_embed(Paper.objects.filter(last_seen_at__gte=dt.datetime.fromisoformat(since)))


@shared_task(**EMBED)
def interests_embed(interests: str) -> int:
    """Embed (once) the facets of a reader's new interests text."""
    return vectors.interests_texts_store(interests=[interests])


@shared_task(**EMBED)
def papers_embed(arxiv_ids: list[str]) -> int:
    """Embed (once) these papers, e.g. an issue's candidates that a preview found without vectors."""
    return _papers_embed(Paper.objects.filter(arxiv_id__in=arxiv_ids))


def _papers_embed(papers: QuerySet[Paper]) -> int:
    """Embed the papers that have no stored vector yet (those that have one cost a lookup); how many papers."""
    chosen = list(papers)
    vectors.papers_vectors(papers=chosen)
    return len(chosen)
