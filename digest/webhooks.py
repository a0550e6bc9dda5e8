"""Provider tracking events mapped back to the Delivery they are about.

The events are delivered, opened, clicked, bounced and complained.

Each digest carries its delivery's id in the provider's metadata (merge_metadata) and the
provider's message id is stored on the Delivery, so an event finds its row by either. A
metadata id only counts when the event's recipient is that delivery's reader: metadata is
ours, but a forged or mixed-up event must not mark another reader's row. Each timestamp is
set once (the first event wins), so redelivered events change nothing. Suppression of the
address itself is subscriptions.webhooks' business; both receive the same signal.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType
from django.utils import timezone

from digest.models import Delivery

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


def delivery_event_apply(*, event: AnymailTrackingEvent) -> int:
    """Stamp the event on its Delivery (by metadata, else by message id); rows changed (0 or 1)."""
    field = FIELD_BY_TYPE.get(event.event_type)
    if field is None:
        return 0
    when = event.timestamp if isinstance(event.timestamp, dt.datetime) else timezone.now()
    delivery_id = _delivery_id(event)
    recipient = event.recipient if isinstance(event.recipient, str) else ""
    if delivery_id is not None and recipient:
        rows = Delivery.objects.filter(pk=delivery_id, subscriber__email__iexact=recipient.strip())
    elif isinstance(event.message_id, str) and event.message_id.strip():
        rows = Delivery.objects.filter(message_id=event.message_id.strip()[:255])
    else:
        return 0
    changed = Delivery.objects.filter(
        pk__in=rows.values("pk")[:1], **{f"{field}__isnull": True}
    ).update(**{field: when, "updated_at": timezone.now()})
    if changed:
        logger.info(
            "delivery event", extra={"event_type": event.event_type, "delivery": delivery_id}
        )
    return changed


def tracking_received(
    sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    """Receiver of `anymail.signals.tracking` (connected in DigestConfig.ready)."""
    delivery_event_apply(event=event)
