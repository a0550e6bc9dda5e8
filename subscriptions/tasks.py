"""Emails for sign-ups and address changes, sent by the worker after the request has committed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from anymail.exceptions import AnymailRequestsAPIError
from celery import shared_task
from django.db import OperationalError

from subscriptions import services

T = TypeVar("T")


class TransientSendError(Exception):
    """The email provider or the network failed in a way worth another try."""


def _send(send: Callable[..., T], subscriber_id: int) -> T:
    try:
        return send(subscriber_id=subscriber_id)
    except AnymailRequestsAPIError as error:
        # No answer (network), 429 and 5xx pass; a 4xx (bad address, bad key) would only fail again.
        if error.status_code is None or error.status_code == 429 or error.status_code >= 500:
            raise TransientSendError(f"email provider trouble (HTTP {error.status_code})") from error
        raise


RETRY = {
    "acks_late": True,
    "autoretry_for": (TransientSendError, ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**RETRY)
def subscriber_signup_email_send(subscriber_id: int) -> str | None:
    """The confirmation (or, for a confirmed address, the manage link) after a sign-up."""
    return _send(services.subscriber_signup_email_send, subscriber_id)


@shared_task(**RETRY)
def subscriber_email_change_send(subscriber_id: int) -> bool:
    """The link that confirms a new address."""
    return _send(services.subscriber_email_change_send, subscriber_id)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, retry_jitter=True, max_retries=5)
def subscriber_subscribe(email: str, preferences: dict[str, object]) -> None:
    """A sign-up, stored and answered by the worker: the web only validated it (see views.subscribe)."""
    services.subscriber_subscribe(email=email, preferences=services.Preferences(**preferences))  # type: ignore[arg-type]
