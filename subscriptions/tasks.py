"""The worker's side of subscriptions: sign-up, welcome and address emails, sign-ups, reader seeds.

Each runs after the request that queued it has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

from anymail.exceptions import AnymailRequestsAPIError
from celery import shared_task
from django.db import OperationalError

from papers.sources.http import TransientFetchError
from subscriptions import services
from subscriptions.emails import TransientSendError, send_error_is_transient

T = TypeVar("T")


def _send_or_raise_transient(send: Callable[..., T], subscriber_id: int) -> T:
    """Call the service that sends; a failure worth another try becomes TransientSendError."""
    try:
        return send(subscriber_id=subscriber_id)
    except Exception as error:
        # A refusal (bad address, bad key) would only fail again: it is not retried.
        if not send_error_is_transient(error):
            raise
        detail = (
            f"HTTP {error.status_code}"
            if isinstance(error, AnymailRequestsAPIError)
            else type(error).__name__
        )
        raise TransientSendError(f"email provider trouble ({detail})") from error


class _RetryOptions(TypedDict):
    """The options of shared_task that retry a task, typed so that shared_task(**options) checks."""

    acks_late: bool
    autoretry_for: tuple[type[Exception], ...]
    retry_backoff: bool
    retry_jitter: bool
    max_retries: int


SEND_RETRY: _RetryOptions = {
    "acks_late": True,
    # _send_or_raise_transient turns every failure worth another try (network, timeouts
    # included) into this one.
    "autoretry_for": (TransientSendError,),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
}


# Each task keeps the name it was registered under before its function took the _task suffix, so
# that messages a web process queued before an upgrade still find their task in the new worker.
@shared_task(name="subscriptions.tasks.subscriber_signup_email_send", **SEND_RETRY)
def subscriber_signup_email_send_task(subscriber_id: int) -> str | None:
    """The confirmation (or, for a confirmed address, the manage link) after a sign-up."""
    return _send_or_raise_transient(services.subscriber_signup_email_send, subscriber_id)


@shared_task(name="subscriptions.tasks.subscriber_email_change_send", **SEND_RETRY)
def subscriber_email_change_send_task(subscriber_id: int) -> bool:
    """The link that confirms a new address."""
    return _send_or_raise_transient(services.subscriber_email_change_send, subscriber_id)


@shared_task(name="subscriptions.tasks.subscriber_welcome_send", **SEND_RETRY)
def subscriber_welcome_send_task(subscriber_id: int) -> bool:
    """The welcome email, once a subscription is confirmed: manage link, choices, first digest."""
    return _send_or_raise_transient(services.subscriber_welcome_send, subscriber_id)


@shared_task(
    name="subscriptions.tasks.subscriber_subscribe",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def subscriber_subscribe_task(
    email: str, preferences: dict[str, Any], seeds: list[str] | None = None
) -> None:
    """A sign-up, stored and answered by the worker: the web only validated it (views.subscribe).

    `seeds` (arXiv ids given at sign-up) is optional, so messages queued without it still run.
    """
    services.subscriber_subscribe(
        email=email, preferences=services.Preferences(**preferences), seeds=seeds or ()
    )


@shared_task(
    name="subscriptions.tasks.seeds_fetch",
    acks_late=True,
    # Only network trouble, timeouts, 429 and 5xx are worth another try: an id arXiv does not
    # have is marked missing, and a seed whose retries run out stays pending for the next try.
    autoretry_for=(TransientFetchError, OperationalError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def seeds_fetch_task(subscriber_id: int) -> int:
    """Fetch a reader's pending seeds (arXiv ids, author and ORCID look-ups); how many are ready."""
    return services.seeds_fetch(subscriber_id=subscriber_id)
