"""Provider tracking events mapped back to the Delivery they are about.

The events are delivered, opened, clicked, bounced and complained.

Each digest carries its delivery's id in the provider's metadata (merge_metadata) and the
provider's message id is stored on the Delivery, so an event finds its row by either. A
metadata id only counts when the event's recipient is that delivery's reader: metadata is
ours, but a forged or mixed-up event must not mark another reader's row. Each timestamp is
set once (the first event wins), so redelivered events change nothing. Suppression of the
address itself is subscriptions.webhooks' business; both receive the same signal.

A click on a paper's link (its arXiv, PDF, Hugging Face or Paperboy page) is also kept as a weak
positive signal for that paper, never as a vote; a click on a vote link is neither.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from anymail.signals import AnymailTrackingEvent, EventType
from django.db.models import QuerySet
from django.utils import timezone

from digest.models import Delivery, PaperClick
from digest.tasks import profile_refresh_later
from digest.votes import VOTE_BURST_PAPERS, VOTE_BURST_SECONDS

logger = logging.getLogger(__name__)

FIELD_BY_TYPE = {
    EventType.DELIVERED: "delivered_at",
    EventType.OPENED: "opened_at",
    EventType.CLICKED: "clicked_at",
    EventType.BOUNCED: "bounced_at",
    EventType.COMPLAINED: "complained_at",
}


def _delivery_id(event: AnymailTrackingEvent) -> int | None:
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    raw = metadata.get("delivery")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if 0 < raw < 2**63 else None
    if isinstance(raw, str) and raw.isdigit() and len(raw) < 19:
        return int(raw)
    return None


def _event_time(event: AnymailTrackingEvent) -> dt.datetime:
    return event.timestamp if isinstance(event.timestamp, dt.datetime) else timezone.now()


def _delivery_rows(event: AnymailTrackingEvent) -> QuerySet[Delivery] | None:
    """The event's Delivery (by metadata and recipient, else by message id), or None."""
    delivery_id = _delivery_id(event)
    recipient = event.recipient if isinstance(event.recipient, str) else ""
    if delivery_id is not None and recipient:
        return Delivery.objects.filter(pk=delivery_id, subscriber__email__iexact=recipient.strip())
    if isinstance(event.message_id, str) and event.message_id.strip():
        return Delivery.objects.filter(message_id=event.message_id.strip()[:255])
    return None


def delivery_event_apply(*, event: AnymailTrackingEvent) -> int:
    """Stamp the event on its Delivery (by metadata, else by message id); rows changed (0 or 1)."""
    field = FIELD_BY_TYPE.get(event.event_type)
    if field is None:
        return 0
    when = _event_time(event)
    delivery_id = _delivery_id(event)
    rows = _delivery_rows(event)
    if rows is None:
        return 0
    changed = Delivery.objects.filter(
        pk__in=rows.values("pk")[:1], **{f"{field}__isnull": True}
    ).update(**{field: when, "updated_at": timezone.now()})
    if changed:
        logger.info(
            "delivery event", extra={"event_type": event.event_type, "delivery": delivery_id}
        )
    return changed


def clicked_paper(*, url: str, papers: list[str]) -> str | None:
    """The paper of the delivery a clicked URL opens (abs, PDF, HF or our page), or None."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    if "/vote/" in path:  # a vote link counts through its own page, never as a click
        return None
    for arxiv_id in papers:
        if isinstance(arxiv_id, str) and re.search(
            rf"/{re.escape(arxiv_id)}(?:v\d+)?(?:\.pdf)?/?$", path
        ):
            return arxiv_id
    return None


def paper_click_record(*, event: AnymailTrackingEvent) -> bool:
    """Keep a click on a paper's link as a weak signal; whether one was stored.

    A link scanner that follows every tracked link clicks several papers within seconds: such
    clicks (VOTE_BURST_PAPERS papers within VOTE_BURST_SECONDS of each other, by the provider's
    timestamps, whatever order the events arrive in) are deleted, as a burst of votes is.
    """
    rows = _delivery_rows(event) if event.event_type == EventType.CLICKED else None
    delivery = rows.only("pk", "subscriber_id", "papers").first() if rows is not None else None
    url = event.click_url if isinstance(event.click_url, str) else ""
    papers = delivery.papers if delivery is not None and isinstance(delivery.papers, list) else []
    arxiv_id = clicked_paper(url=url, papers=papers)
    if delivery is None or arxiv_id is None:
        return False
    when = _event_time(event)
    PaperClick.objects.bulk_create(
        [
            PaperClick(
                subscriber_id=delivery.subscriber_id,
                delivery=delivery,
                arxiv_id=arxiv_id,
                clicked_at=when,
            )
        ],
        ignore_conflicts=True,  # a redelivered event, or a second link to the same paper
    )
    window = dt.timedelta(seconds=VOTE_BURST_SECONDS)
    near = PaperClick.objects.filter(
        delivery=delivery, clicked_at__gte=when - window, clicked_at__lte=when + window
    )
    if near.values("arxiv_id").distinct().count() >= VOTE_BURST_PAPERS:
        near.delete()
        return False
    return True


def tracking_received(
    sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    """Receiver of `anymail.signals.tracking` (connected in DigestConfig.ready)."""
    delivery_event_apply(event=event)
    rows = _delivery_rows(event)
    if paper_click_record(event=event) and rows is not None:
        # A click is a weak "more like this": the reader's profile is refit with it.
        subscriber_id = rows.values_list("subscriber_id", flat=True).first()
        if subscriber_id is not None:
            profile_refresh_later(subscriber_id=subscriber_id)
