"""Handing a batch of assembled digests to the email provider.

How many per call, merged or one by one, and what is worth a retry.

One small interface, as each channel will have its own: a Transport takes the batch's
digests and reports an outcome for each, or the transient trouble that stopped it and the
digests it left unsent. It never raises for what the provider answers, and it knows nothing
of claims, readers or ranking; the batch (digest.sending) does.

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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from anymail.exceptions import AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from digest.ledger import Claimed, Outcome
from digest.models import DeliveryStatus
from digest.render import CodeNotice, EmailParts
from subscriptions.emails import send_error_is_transient, unsubscribe_headers

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
IDEMPOTENCY_HEADER = "X-Paperboy-Idempotency-Key"


@dataclass(frozen=True)
class DigestItem:
    """One picked paper as a channel shows it (an email has it rendered in `parts`)."""

    arxiv_id: str
    title: str
    url: str  # the paper's page on this site
    authors: str  # "Ada Lovelace, Alan Turing et al."
    summary: str  # a few sentences
    reason: str  # why this reader got it; "" when there is none to tell


@dataclass(frozen=True)
class ChannelTarget:
    """Where a team channel's digest goes (digest.Channel), read with its reader."""

    kind: str  # a ChannelKind
    name: str
    url: str
    secret: str  # the Standard Webhooks secret ("whsec_…"); "" for Slack and Discord


@dataclass(frozen=True)
class OutgoingDigest:
    """One reader's assembled digest, ready to hand over, with what the ledger records of it.

    `via` says which transport takes it (a SubscriberVia): an email reader's has its `parts`;
    a channel's has its `channel`, `heading` and `items`; a feed reader's needs neither.
    """

    claimed: Claimed
    to: str
    parts: EmailParts | None
    picks: tuple[str, ...]
    unsubscribe_url: str
    idempotency_key: str
    via: str = "email"
    reasons: tuple[str, ...] = ()  # each pick's reason, recorded with it
    notices: tuple[CodeNotice, ...] = ()  # "code is out" items, at most 3
    items: tuple[DigestItem, ...] = ()  # for channels
    heading: str = ""  # for channels: "Paperboy daily, 14 January 2026"
    issue_url: str = ""  # for channels: the issue's public page
    channel: ChannelTarget | None = None

    @property
    def email_parts(self) -> EmailParts:
        """The email's subject, text and HTML: an email reader's digest always has them."""
        if self.parts is None:
            raise ValueError(f"a {self.via} digest has no email parts")
        return self.parts


@dataclass
class Handover:
    """What came of handing a batch over: an outcome per digest the provider answered for.

    On trouble worth another try (`transient_error`, described), `unsent` are the digests the
    provider has not taken, which the batch holds for a retry.
    """

    outcomes: list[Outcome] = field(default_factory=list)
    transient_error: str | None = None
    unsent: Sequence[OutgoingDigest] = ()
    # Seconds the receiver asked to wait (a 429's Retry-After) before the retry; None: no ask.
    retry_after: float | None = None


class Transport:
    """One way of handing a batch of digests to the provider."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def send(self, *, issue_id: int, digests: Sequence[OutgoingDigest]) -> Handover:
        raise NotImplementedError


class MergedEmail(Transport):
    """One API call for the whole batch, every reader's digest in merge_data.

    The provider substitutes it inline, or through a stored template.
    """

    def __init__(self, connection: Any, *, provider: str) -> None:
        super().__init__(connection)
        self.provider = provider

    def send(self, *, issue_id: int, digests: Sequence[OutgoingDigest]) -> Handover:
        message = self._message(issue_id=issue_id, digests=digests)
        try:
            message.send()
        except Exception as error:
            if send_error_is_transient(error):
                return Handover(
                    transient_error=f"provider trouble: {error_describe(error)}", unsent=digests
                )
            if isinstance(error, AnymailRecipientsRefused):
                return Handover(
                    [outcome_failed(d.claimed, "refused by the provider") for d in digests]
                )
            return Handover([outcome_failed(d.claimed, error_describe(error)) for d in digests])
        statuses = message.anymail_status.recipients
        return Handover([_outcome_from_status(d, statuses.get(d.to)) for d in digests])

    def _message(self, *, issue_id: int, digests: Sequence[OutgoingDigest]) -> AnymailMessage:
        message = AnymailMessage(
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[d.to for d in digests],
            connection=self.connection,
        )
        if self.provider in INLINE_MERGE:
            merge_field = INLINE_MERGE[self.provider].format
            message.subject, message.body = merge_field("subject"), merge_field("text")
            message.attach_alternative(merge_field("html"), "text/html")
        else:
            message.template_id = settings.PAPERBOY_DIGEST_TEMPLATE_ID
        message.merge_data = {
            d.to: {"subject": p.subject, "html": p.html, "text": p.text}
            for d in digests
            if (p := d.email_parts)
        }
        message.merge_headers = {d.to: digest_headers(d) for d in digests}
        message.merge_metadata = {
            d.to: {"delivery": str(d.claimed.delivery_id), "idempotency_key": d.idempotency_key}
            for d in digests
        }
        message.metadata = {"issue": str(issue_id)}
        message.tags = ["digest"]
        return message


class OneByOneEmail(Transport):
    """One message per reader over one connection; transient trouble leaves the rest unsent."""

    def send(self, *, issue_id: int, digests: Sequence[OutgoingDigest]) -> Handover:
        outcomes: list[Outcome] = []
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].rstrip(">") or "paperboy.local"
        for index, digest in enumerate(digests):
            message = EmailMultiAlternatives(
                subject=digest.email_parts.subject,
                body=digest.email_parts.text,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[digest.to],
                headers={
                    **digest_headers(digest),
                    "Message-ID": f"<{digest.idempotency_key}@{domain}>",
                },
                connection=self.connection,
            )
            message.attach_alternative(digest.email_parts.html, "text/html")
            try:
                message.send()
            except Exception as error:
                if send_error_is_transient(error):
                    trouble = f"provider trouble: {error_describe(error)}"
                    return Handover(outcomes, transient_error=trouble, unsent=digests[index:])
                outcomes.append(outcome_failed(digest.claimed, error_describe(error)))
                continue
            status = getattr(message, "anymail_status", None)
            message_id = (
                str(getattr(status, "message_id", "") or "")
                or f"<{digest.idempotency_key}@{domain}>"
            )
            outcomes.append(outcome_sent(digest, message_id))
        return Handover(outcomes)


def transport_for(connection: Any) -> Transport:
    """The transport the backend supports: merged where the provider can batch, else one by one."""
    provider = provider_name(connection)
    if provider in INLINE_MERGE or (
        provider in TEMPLATE_MERGE and settings.PAPERBOY_DIGEST_TEMPLATE_ID
    ):
        return MergedEmail(connection, provider=provider)
    return OneByOneEmail(connection)


class FeedOnly(Transport):
    """A feed-only reader's digest: recorded as sent, read in their private feed; no provider."""

    def send(self, *, issue_id: int, digests: Sequence[OutgoingDigest]) -> Handover:
        return Handover([outcome_sent(d, "") for d in digests])


def transport_for_via(via: str) -> Transport:
    """The transport of one way of receiving the digest (a SubscriberVia)."""
    if via == "feed":
        return FeedOnly(None)
    if via == "channel":
        from digest.channels import ChannelTransport  # noqa: PLC0415 (it builds on this module)

        return ChannelTransport(None)
    return transport_for(get_connection())


def digests_send(*, issue_id: int, digests: Sequence[OutgoingDigest]) -> Handover:
    """Hand the batch's digests to their transports; what came of each, or what to retry."""
    handover = Handover()
    unsent: list[OutgoingDigest] = []
    for via in dict.fromkeys(d.via for d in digests):
        group = [d for d in digests if d.via == via]
        part = transport_for_via(via).send(issue_id=issue_id, digests=group)
        handover.outcomes += part.outcomes
        if part.transient_error is not None:
            handover.transient_error = "; ".join(
                e for e in (handover.transient_error, part.transient_error) if e
            )
            unsent += part.unsent
        if part.retry_after is not None:
            handover.retry_after = max(handover.retry_after or 0.0, part.retry_after)
    handover.unsent = unsent
    return handover


def batch_size_default() -> int:
    """Digests per batch: the setting, else the provider's batch API limit."""
    return settings.PAPERBOY_SEND_BATCH_SIZE or PROVIDER_BATCH.get(provider_name(), DEFAULT_BATCH)


def provider_name(connection: object | None = None) -> str:
    """The configured backend's provider, as Anymail names its module; "" if none.

    For example "postmark", "amazon_ses" or "test". Read from the backend's `esp_name`, so a
    subclass of an Anymail backend counts as its provider.
    """
    esp_name = getattr(connection or get_connection(), "esp_name", "")
    return str(esp_name).strip().lower().replace(" ", "_")


def digest_headers(digest: OutgoingDigest) -> dict[str, str]:
    """The reader's List-Unsubscribe, and the idempotency key for a provider to drop a resend."""
    return {
        **unsubscribe_headers(unsubscribe_url=digest.unsubscribe_url),
        IDEMPOTENCY_HEADER: digest.idempotency_key,
    }


def outcome_sent(digest: OutgoingDigest, message_id: str) -> Outcome:
    """A sent delivery, with the papers, reasons and "code is out" notices the ledger keeps."""
    return Outcome(
        digest.claimed.delivery_id,
        DeliveryStatus.SENT,
        message_id,
        digest.picks,
        reasons=digest.reasons,
        notices=tuple(n.arxiv_id for n in digest.notices),
    )


def outcome_failed(claimed: Claimed, error: str) -> Outcome:
    """A failed delivery, its error cut to what the ledger keeps."""
    return Outcome(claimed.delivery_id, DeliveryStatus.FAILED, error=error[:500])


def _outcome_from_status(digest: OutgoingDigest, status: object) -> Outcome:
    """Sent (with the provider's message id) if the provider took the recipient, else failed."""
    state = getattr(status, "status", None)
    if state in ("sent", "queued", "scheduled", "unknown"):
        message_id = str(getattr(status, "message_id", "") or "")
        return outcome_sent(digest, message_id)
    return outcome_failed(digest.claimed, f"refused by the provider ({state or 'no status'})")


def error_describe(error: BaseException) -> str:
    """The error's class and message on one line, short enough for a ledger row."""
    try:
        text = " ".join(str(error).split())
    except Exception:  # an exception whose __str__ fails must not take the batch down with it
        text = repr(error.args)
    return f"{type(error).__name__}: {text}"[:400]
