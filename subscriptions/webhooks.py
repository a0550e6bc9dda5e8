"""Suppression from the email provider's tracking webhooks (Anymail), and the URLs receiving them.

Anymail turns each provider's payload into an AnymailTrackingEvent and sends the
`anymail.signals.tracking` signal; `tracking_received` decides what the event means and
hands it to `services.tracking_event_record`, which acts on it once. What each of Anymail's
normalized event types means here:

- "bounced": a hard bounce, the address is marked bounced. Except Postmark's "SoftBounce"
  (mailbox full and the like), which Anymail also reports as "bounced": a soft bounce.
- "deferred" (the provider will retry), and "bounced" with reject_reason "timed_out" (it gave
  up retrying): a soft bounce. Soft bounces are counted, once per message; the third in a row
  marks the address bounced, and a "delivered" event starts the count again.
- "rejected" (the provider refused to send) for an invalid or previously bounced address:
  bounced; because of a spam complaint: complained; because of an unsubscribe: unsubscribed.
  A rejection for any other reason (blocked, a policy of ours) says nothing about the reader.
- "complained": complained. "unsubscribed" (at the provider): unsubscribed.
- anything else (opened, clicked, queued, sent, subscribed, ...): recorded, nothing changes.
- an event without a valid address: ignored and not recorded (a recipient that is not even
  text is a malformed body: 400).

Bounced and complained addresses get no email at all until their owner signs up again and
confirms (see services.subscriber_subscribe: the reader asked for that confirmation).

Webhooks are authenticated by Anymail: HTTP basic auth with ANYMAIL_WEBHOOK_SECRET, plus the
provider's signature where it has one (e.g. MAILGUN_WEBHOOK_SIGNING_KEY). Anymail alone
accepts anyone when no secret is set, and answers a malformed body with a 500; the views
mounted here (`urlpatterns`, Anymail's tracking views) refuse both with a 400 instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailError, AnymailWebhookValidationFailure
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from anymail.webhooks.base import AnymailCoreWebhookView
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.urls import URLPattern

from config import metrics
from subscriptions.models import WebhookEvent
from subscriptions.services import TrackingEvent, tracking_event_record

logger = logging.getLogger(__name__)

Action = WebhookEvent.Action

_ACTION_BY_EVENT_TYPE = {
    EventType.BOUNCED: Action.HARD_BOUNCE,
    EventType.DEFERRED: Action.SOFT_BOUNCE,
    EventType.COMPLAINED: Action.COMPLAINT,
    EventType.UNSUBSCRIBED: Action.UNSUBSCRIBE,
    EventType.DELIVERED: Action.DELIVERY,
}
_ACTION_BY_REJECT_REASON = {
    RejectReason.INVALID: Action.HARD_BOUNCE,
    RejectReason.BOUNCED: Action.HARD_BOUNCE,
    RejectReason.SPAM: Action.COMPLAINT,
    RejectReason.UNSUBSCRIBED: Action.UNSUBSCRIBE,
}


def _esp_detail(event: AnymailTrackingEvent, name: str) -> Any:
    return event.esp_event.get(name) if isinstance(event.esp_event, dict) else None


def event_action(event: AnymailTrackingEvent) -> str:
    """What a normalized tracking event means for the subscription (see the module docstring)."""
    if event.event_type == EventType.REJECTED:
        return _ACTION_BY_REJECT_REASON.get(event.reject_reason, Action.NONE)
    if event.event_type == EventType.BOUNCED and (
        event.reject_reason == RejectReason.TIMED_OUT or _esp_detail(event, "Type") == "SoftBounce"
    ):
        return Action.SOFT_BOUNCE
    return _ACTION_BY_EVENT_TYPE.get(event.event_type, Action.NONE)


def _storable_text(value: Any, limit: int) -> str:
    # A provider's ids are opaque text; NUL is the one character PostgreSQL cannot store.
    return "" if value is None else str(value).replace("\x00", "")[:limit]


def event_key(event: AnymailTrackingEvent) -> str:
    """The provider's event id, or for an event without one (Postmark deliveries) a hash of it."""
    if event_id := _storable_text(event.event_id, 128):
        return event_id
    raw = json.dumps(event.esp_event, sort_keys=True, default=repr)
    return f"sha256:{hashlib.sha256(raw.encode()).hexdigest()}"


def _recipient(event: AnymailTrackingEvent) -> str | None:
    """The event's address if valid; AnymailWebhookValidationFailure (a 400) if it is not text."""
    if event.recipient is not None and not isinstance(event.recipient, str):
        raise AnymailWebhookValidationFailure("Malformed webhook: the recipient is not an address")
    try:
        validate_email(event.recipient)
    except ValidationError:
        return None
    return event.recipient


def tracking_received(
    sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    """Receiver of `anymail.signals.tracking` (connected in SubscriptionsConfig.ready)."""
    metrics.webhook_event_count(esp=esp_name, event_type=str(event.event_type or EventType.UNKNOWN))
    recipient = _recipient(event)
    if recipient is None:
        # Nothing to act on, and nothing worth keeping: the provider gets its 200 and moves on.
        logger.info(
            "webhook event without an address ignored",
            extra={"esp": esp_name, "type": event.event_type},
        )
        return
    tracking_event_record(
        event=TrackingEvent(
            esp_name=esp_name[:32],
            event_id=event_key(event),
            event_type=_storable_text(event.event_type or EventType.UNKNOWN, 32),
            action=event_action(event),
            recipient=recipient,
            message_id=_storable_text(event.message_id, 255),
            occurred_at=event.timestamp if isinstance(event.timestamp, dt.datetime) else None,
        )
    )


# --- The webhook views ------------------------------------------------------------------------

# What a provider's parser or validator raises on a body that is not what it expects.
_MALFORMED_BODY_ERRORS = (
    # JSON nested thousands of levels deep: json.loads recurses once a level.
    RecursionError,
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    ArithmeticError,  # e.g. a timestamp out of range
    AnymailError,
    ImproperlyConfigured,
)


class _RefusingWebhookMixin(AnymailCoreWebhookView):
    """Refuses with a 400 what Anymail's view would accept unauthenticated or answer with a 500."""

    warn_if_no_basic_auth = False  # refused below instead

    def __init__(self, **kwargs: Any) -> None:
        self.setup_error: ImproperlyConfigured | None = None
        try:
            super().__init__(**kwargs)
        except ImproperlyConfigured as error:  # e.g. Mailgun's signing key is not set
            self.setup_error = error

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.setup_error is not None:
            logger.error(
                "webhook not configured",
                extra={"esp": self.esp_name, "error": str(self.setup_error)},
            )
            return HttpResponseNotFound(f"The {self.esp_name} webhook is not configured here.")
        return super().post(request, *args, **kwargs)

    def run_validators(self, request: HttpRequest) -> None:
        if not getattr(self, "basic_auth", None):
            raise AnymailWebhookValidationFailure(
                "Webhooks are refused: ANYMAIL_WEBHOOK_SECRET is not set."
            )
        try:
            super().run_validators(request)
        except AnymailWebhookValidationFailure:
            raise
        except _MALFORMED_BODY_ERRORS as error:
            raise AnymailWebhookValidationFailure(f"Malformed {self.esp_name} webhook") from error

    def parse_events(self, request: HttpRequest) -> list[Any]:
        # NUL has no place in a tracking event, and PostgreSQL cannot store or even compare it
        # (an event's message id is looked up in the ledger): refused, whether raw or escaped.
        if b"\x00" in request.body or b"\\u0000" in request.body:
            raise AnymailWebhookValidationFailure(f"Malformed {self.esp_name} webhook: NUL")
        try:
            return list(super().parse_events(request))
        except _MALFORMED_BODY_ERRORS as error:
            raise AnymailWebhookValidationFailure(f"Malformed {self.esp_name} webhook") from error


def _refusing_view_class(view_class: type[AnymailCoreWebhookView]) -> type[AnymailCoreWebhookView]:
    """Anymail's view class with _RefusingWebhookMixin in front, named after it."""
    return type(f"Refusing{view_class.__name__}", (_RefusingWebhookMixin, view_class), {})


def _tracking_patterns() -> list[URLPattern]:
    # Only the tracking webhooks: Paperboy receives no inbound mail.
    patterns = []
    for pattern in anymail_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name and pattern.name.endswith("_tracking_webhook"):
            # django-stubs type a URLPattern's callback as a plain callable; as_view() gave it a
            # view_class attribute.
            view_class = pattern.callback.view_class  # type: ignore[attr-defined]
            view = _refusing_view_class(view_class).as_view()
            patterns.append(URLPattern(pattern.pattern, view, name=pattern.name))
    return patterns


app_name = "anymail"
urlpatterns = _tracking_patterns()
