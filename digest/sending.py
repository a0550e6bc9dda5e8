"""Sending one batch: claim, rank each reader's papers, assemble their email, hand the batch to the provider, record.

The queries per batch are constant whatever its size: claim (1), the readers (1), what they
were already sent (1), their interests' vectors (at most 1, often 0: they are cached) and the
outcome (1). The issue itself (candidates, their vectors, the rendered frame) is prepared once
per process and reused by every batch (IssueContext).

Providers: Anymail's batch sending sends one API call for many recipients, with per-recipient
`merge_data` (here the whole subject, HTML and text: every reader's digest is different),
`merge_headers` (List-Unsubscribe, the idempotency key) and `merge_metadata` (the delivery id,
which tracking webhooks bring back). Mailgun substitutes merge data inline (%recipient.html%);
Postmark, Amazon SES and Brevo only through a stored template, so they batch when
PAPERBOY_DIGEST_TEMPLATE_ID names one holding {{{html}}}, {{text}} and {{subject}}. Every
other backend (SMTP, the development outbox, providers without a batch API) gets one message
per reader over one connection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import smtplib
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import requests
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused, AnymailRequestsAPIError
from anymail.message import AnymailMessage
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from digest import ledger
from digest.ledger import Claimed, Outcome
from digest.models import DeliveryStatus, Issue
from digest.ranking import CandidatePool, Ranked, interests_facets
from digest.render import EmailParts, IssueFrame, Pick, issue_frame_build
from digest.services import issue_papers, issue_pause
from digest.vectors import papers_vectors, vectors_get
from subscriptions.emails import site_url, unsubscribe_headers
from subscriptions.models import Subscriber
from subscriptions.tokens import Purpose, token_make

logger = logging.getLogger(__name__)

# Recipients per API call of each provider's batch API (Anymail's module names).
PROVIDER_BATCH = {
    "postmark": 500,
    "amazon_ses": 50,
    "mailgun": 1000,
    "brevo": 1000,
    "sendinblue": 1000,
    "resend": 100,
    "test": 500,
}
DEFAULT_BATCH = 100
# Per-recipient substitution in the message itself, for providers that have it without a template.
INLINE_MERGE = {"mailgun": "%recipient.{}%", "test": "{{{{{}}}}}"}
TEMPLATE_MERGE = {"postmark", "amazon_ses", "brevo", "sendinblue"}
PIN_REASON = "editor's pick"
_ISSUE_CACHE_SECONDS = 60
IDEMPOTENCY_HEADER = "X-Paperboy-Idempotency-Key"


class TransientSendError(Exception):
    """The provider or the network failed in a way worth another try; the batch keeps its claim.

    `done` are the outcomes of the messages handed over before the failure (one-by-one sending),
    `rest` the readers still to send; `claim` is what the retry takes the rest back under.
    """

    def __init__(self, message: str, *, done: Sequence[Outcome] = (), rest: Sequence[Prepared] | None = None) -> None:
        super().__init__(message)
        self.done = list(done)
        self.rest = rest
        self.claim: uuid.UUID | None = None


# --- The issue, prepared once per process ------------------------------------------------------


@dataclass
class IssueContext:
    issue: Issue
    pins: list[str]
    pool: CandidatePool
    frame: IssueFrame
    loaded_at: float = field(default_factory=time.monotonic)


_contexts: dict[int, IssueContext] = {}


def issue_context(*, issue_id: int, fresh: bool = False) -> IssueContext:
    """The issue's pins, ranked pool and rendered frame, built once a minute at most per process."""
    context = _contexts.get(issue_id)
    if context is None or fresh or time.monotonic() - context.loaded_at > _ISSUE_CACHE_SECONDS:
        issue = Issue.objects.get(pk=issue_id)
        pins, candidates = issue_papers(issue=issue)
        pool = CandidatePool(candidates, papers_vectors(papers=candidates) if candidates else None)
        frame = issue_frame_build(issue=issue, papers={p.arxiv_id: p for p in [*pins, *candidates]})
        context = IssueContext(issue, [p.arxiv_id for p in pins], pool, frame)
        _contexts[issue_id] = context
    return context


def contexts_clear() -> None:
    _contexts.clear()


# --- Choosing a reader's papers --------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    subscriber_id: int
    email: str
    interests: str
    digest_size: int
    categories: tuple[str, ...] = ()  # arXiv categories the reader keeps to; empty: all


def reader_picks(
    *, pins: Sequence[str], pool: CandidatePool, reader: Reader, sent: set[str], facet_vectors: np.ndarray | None
) -> tuple[list[Pick], bool]:
    """Pins first, then the best candidates for the reader's interests; never a paper they were sent before."""
    pinned = [Pick(arxiv_id, PIN_REASON) for arxiv_id in pins if arxiv_id not in sent]
    if reader.categories:
        # Editors' pins go to everyone; the rest keeps to the reader's categories.
        sent = sent | pool.outside_categories(reader.categories)
    pinned = pinned[: reader.digest_size]
    room = reader.digest_size - len(pinned)
    ranked: list[Ranked] = []
    if room > 0:
        ranked = pool.rank(interests=reader.interests, limit=room, exclude_ids=sent, facet_vectors=facet_vectors)
    fallback = bool(ranked) and ranked[0].fallback
    return [*pinned, *(Pick(r.arxiv_id, r.reason) for r in ranked)], fallback


def idempotency_key(*, issue_id: int, subscriber_id: int) -> str:
    """A stable key for one reader's copy of one issue: the same on every retry, unguessable from outside."""
    message = f"paperboy.delivery:{issue_id}:{subscriber_id}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:40]


class _Links:
    """The reader's manage and unsubscribe URLs, with the URL prefix reversed once per batch."""

    def __init__(self) -> None:
        self.manage = site_url(reverse("subscriptions:manage", kwargs={"token": "T0KEN"}))
        self.unsubscribe = site_url(reverse("subscriptions:unsubscribe", kwargs={"token": "T0KEN"}))

    def for_reader(self, reader: Reader) -> tuple[str, str]:
        def token(purpose: Purpose) -> str:
            return token_make(subscriber_id=reader.subscriber_id, address=reader.email, purpose=purpose)

        return (
            self.manage.replace("T0KEN", token(Purpose.MANAGE)),
            self.unsubscribe.replace("T0KEN", token(Purpose.UNSUBSCRIBE)),
        )


# --- One batch ------------------------------------------------------------------------------------


@dataclass
class Prepared:
    claimed: Claimed
    reader: Reader
    parts: EmailParts
    picks: tuple[str, ...]
    unsubscribe_url: str
    key: str


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    paused: bool = False


def deliveries_send_batch(
    *, issue_id: int, batch_size: int | None = None, claim: uuid.UUID | None = None, now: dt.datetime | None = None
) -> BatchResult:
    """Claim (or, with `claim`, take back for a retry) one batch of an issue's deliveries and send it.

    Raises TransientSendError, with the claim to retry under, when the provider or the network
    failed for the whole batch and attempts are left; the rows stay claimed meanwhile.
    """
    now = now or timezone.now()
    size = batch_size or batch_size_default()
    if claim is None:
        claim, claimed = ledger.delivery_claim(issue_id=issue_id, limit=size, now=now)
    else:
        claimed = ledger.delivery_reclaim(claim=claim, now=now)
    result = BatchResult(claimed=len(claimed))
    if not claimed:
        return result
    context = issue_context(issue_id=issue_id)
    readers, outcomes = _readers(claim, claimed)
    prepared = _prepare(context=context, claim=claim, claimed=claimed, readers=readers, outcomes=outcomes, now=now)
    try:
        outcomes += _send(context=context, prepared=prepared)
    except TransientSendError as error:
        outcomes += error.done
        rest = prepared if error.rest is None else error.rest
        # A row out of attempts fails now; the others stay claimed for the retry.
        spent = [p for p in rest if p.claimed.attempts >= ledger.MAX_ATTEMPTS]
        outcomes += [_failed(p.claimed, f"gave up after {ledger.MAX_ATTEMPTS} attempts: {error}") for p in spent]
        if len(spent) < len(rest):
            ledger.delivery_record(claim=claim, outcomes=outcomes, now=now)
            error.claim = claim
            logger.warning("digest batch will retry", extra={"issue": issue_id, "error": str(error)})
            raise
    ledger.delivery_record(claim=claim, outcomes=outcomes, now=now)
    for outcome in outcomes:
        setattr(result, outcome.status, getattr(result, outcome.status, 0) + 1)
    result.paused = _guard(issue=context.issue, result=result, outcomes=outcomes)
    logger.info(
        "digest batch sent",
        extra={"issue": issue_id, "claimed": result.claimed, "sent": result.sent, "failed": result.failed},
    )
    return result


def batch_size_default() -> int:
    return settings.PAPERBOY_SEND_BATCH_SIZE or PROVIDER_BATCH.get(provider_name(), DEFAULT_BATCH)


def provider_name(connection: object | None = None) -> str:
    """The configured backend's provider as Anymail names its module ("postmark", "amazon_ses", "test"); "" if none.

    Read from the backend's `esp_name`, so a subclass of an Anymail backend counts as its provider.
    """
    esp_name = getattr(connection or get_connection(), "esp_name", "")
    return str(esp_name).strip().lower().replace(" ", "_")


def _failed(claimed: Claimed, error: str) -> Outcome:
    return Outcome(claimed.delivery_id, DeliveryStatus.FAILED, error=error[:500])


def _readers(claim: uuid.UUID, claimed: Sequence[Claimed]) -> tuple[dict[int, Reader], list[Outcome]]:
    """The claimed rows' readers, re-read now: one who left since they were made due is skipped."""
    # Joined through the claim rather than listing the ids: the query is the same size for any batch.
    rows = Subscriber.objects.filter(deliveries__claim=claim).values_list(
        "pk", "email", "status", "confirmed_at", "interests", "digest_size", "categories"
    )
    readers = {
        pk: Reader(pk, email, interests, digest_size, tuple(sorted(categories or ())))
        for pk, email, status, confirmed_at, interests, digest_size, categories in rows
        if status == Subscriber.Status.ACTIVE and confirmed_at is not None
    }
    skipped = [
        Outcome(c.delivery_id, DeliveryStatus.SKIPPED, error="no longer subscribed when the batch was claimed")
        for c in claimed
        if c.subscriber_id not in readers
    ]
    return readers, skipped


def _facets(readers: Sequence[Reader]) -> dict[str, np.ndarray]:
    """Every facet's vector for these readers' interests, in one lookup (computed in the worker if missing)."""
    texts = list(dict.fromkeys(f for r in readers for f in interests_facets(r.interests)))
    vectors = vectors_get(texts=texts)
    return dict(zip(texts, vectors, strict=True))


def _prepare(
    *,
    context: IssueContext,
    claim: uuid.UUID,
    claimed: Sequence[Claimed],
    readers: dict[int, Reader],
    outcomes: list[Outcome],
    now: dt.datetime,
) -> list[Prepared]:
    if not readers:
        return []
    # Joined through the claim: the same query for any batch size.
    history = ledger.papers_sent(
        readers=Q(subscriber__deliveries__claim=claim), except_issue_id=context.issue.pk, now=now
    )
    by_facet = _facets(list(readers.values()))
    links = _Links()
    prepared = []
    for c in claimed:
        reader = readers.get(c.subscriber_id)
        if reader is None:
            continue
        facets = interests_facets(reader.interests)
        vectors = np.vstack([by_facet[f] for f in facets]) if facets else None
        picks, fallback = reader_picks(
            pins=context.pins,
            pool=context.pool,
            reader=reader,
            sent=history[reader.subscriber_id],
            facet_vectors=vectors,
        )
        if not picks:
            outcomes.append(
                Outcome(c.delivery_id, DeliveryStatus.SKIPPED, error="nothing left this reader has not had")
            )
            continue
        manage_url, unsubscribe_url = links.for_reader(reader)
        parts = context.frame.assemble(
            picks=picks, fallback=fallback, manage_url=manage_url, unsubscribe_url=unsubscribe_url
        )
        key = idempotency_key(issue_id=context.issue.pk, subscriber_id=reader.subscriber_id)
        prepared.append(Prepared(c, reader, parts, tuple(p.arxiv_id for p in picks), unsubscribe_url, key))
    return prepared


# --- Handing the batch to the provider ------------------------------------------------------------


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, AnymailRequestsAPIError):
        return error.status_code is None or error.status_code == 429 or error.status_code >= 500
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    if isinstance(error, AnymailAPIError):
        return False
    return isinstance(
        error, (requests.ConnectionError, requests.Timeout, smtplib.SMTPServerDisconnected, socket.timeout, OSError)
    )


def _send(*, context: IssueContext, prepared: Sequence[Prepared]) -> list[Outcome]:
    if not prepared:
        return []
    connection = get_connection()
    provider = provider_name(connection)
    template_id = settings.PAPERBOY_DIGEST_TEMPLATE_ID
    if provider in INLINE_MERGE or (provider in TEMPLATE_MERGE and template_id):
        return _send_merged(context=context, prepared=prepared, provider=provider, connection=connection)
    return _send_each(context=context, prepared=prepared, connection=connection)


def _headers(p: Prepared) -> dict[str, str]:
    return {**unsubscribe_headers(unsubscribe_url=p.unsubscribe_url), IDEMPOTENCY_HEADER: p.key}


def _send_merged(
    *, context: IssueContext, prepared: Sequence[Prepared], provider: str, connection: object
) -> list[Outcome]:
    """One API call for the whole batch, every reader's digest in merge_data."""
    message = AnymailMessage(
        from_email=settings.DEFAULT_FROM_EMAIL, to=[p.reader.email for p in prepared], connection=connection
    )
    if provider in INLINE_MERGE:
        field = INLINE_MERGE[provider].format
        message.subject, message.body = field("subject"), field("text")
        message.attach_alternative(field("html"), "text/html")
    else:
        message.template_id = settings.PAPERBOY_DIGEST_TEMPLATE_ID
    message.merge_data = {
        p.reader.email: {"subject": p.parts.subject, "html": p.parts.html, "text": p.parts.text} for p in prepared
    }
    message.merge_headers = {p.reader.email: _headers(p) for p in prepared}
    message.merge_metadata = {
        p.reader.email: {"delivery": str(p.claimed.delivery_id), "idempotency_key": p.key} for p in prepared
    }
    message.metadata = {"issue": str(context.issue.pk)}
    message.tags = ["digest"]
    try:
        message.send()
    except Exception as error:
        if _is_transient(error):
            raise TransientSendError(f"provider trouble: {_describe(error)}") from error
        if isinstance(error, AnymailRecipientsRefused):
            return [_failed(p.claimed, "refused by the provider") for p in prepared]
        return [_failed(p.claimed, _describe(error)) for p in prepared]
    statuses = message.anymail_status.recipients
    return [_outcome(p, statuses.get(p.reader.email)) for p in prepared]


def _outcome(p: Prepared, status: object) -> Outcome:
    state = getattr(status, "status", None)
    if state in ("sent", "queued", "scheduled", "unknown"):
        return Outcome(
            p.claimed.delivery_id, DeliveryStatus.SENT, str(getattr(status, "message_id", "") or ""), p.picks
        )
    return _failed(p.claimed, f"refused by the provider ({state or 'no status'})")


def _send_each(*, context: IssueContext, prepared: Sequence[Prepared], connection: object) -> list[Outcome]:
    """One message per reader over one connection; a transient failure retries the rest of the batch."""
    outcomes: list[Outcome] = []
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].rstrip(">") or "paperboy.local"
    for index, p in enumerate(prepared):
        message = EmailMultiAlternatives(
            subject=p.parts.subject,
            body=p.parts.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[p.reader.email],
            headers={**_headers(p), "Message-ID": f"<{p.key}@{domain}>"},
            connection=connection,
        )
        message.attach_alternative(p.parts.html, "text/html")
        try:
            message.send()
        except Exception as error:
            if _is_transient(error):
                raise TransientSendError(
                    f"provider trouble: {_describe(error)}", done=outcomes, rest=prepared[index:]
                ) from error
            outcomes.append(_failed(p.claimed, _describe(error)))
            continue
        status = getattr(message, "anymail_status", None)
        message_id = str(getattr(status, "message_id", "") or "") or f"<{p.key}@{domain}>"
        outcomes.append(Outcome(p.claimed.delivery_id, DeliveryStatus.SENT, message_id, p.picks))
    return outcomes


def _describe(error: BaseException) -> str:
    try:
        text = " ".join(str(error).split())
    except Exception:  # an exception whose __str__ fails must not take the batch down with it
        text = repr(error.args)
    return f"{type(error).__name__}: {text}"[:400]


def _guard(*, issue: Issue, result: BatchResult, outcomes: Sequence[Outcome]) -> bool:
    """Pause the issue when the provider refuses too much of a batch (a bad key, a blocked domain…)."""
    attempted = result.sent + result.failed
    if attempted < 20 or result.failed / attempted < settings.PAPERBOY_PAUSE_ERROR_RATE:
        return False
    example = next((o.error for o in outcomes if o.status == DeliveryStatus.FAILED), "")
    return issue_pause(issue=issue, reason=f"{result.failed} of {attempted} digests failed in one batch: {example}")
