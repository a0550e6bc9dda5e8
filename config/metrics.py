"""Prometheus metrics: what the processes count as they work, and what is read at scrape time.

Counted by the processes that do the work (gunicorn's workers, Celery's): deliveries by status
and provider, the send batches' duration, webhook events by type. With PROMETHEUS_MULTIPROC_DIR
set, each process writes its figures to files there and a scrape of any web process adds up
every file, so several gunicorn and Celery processes (and containers sharing the directory) give
one total. Read from the database and the broker when scraped (config.health): queue depths,
stuck claims, the open issues' deliveries by status, fetch runs by source and status, the last
successful fetch of each source and the last tick.

/metrics answers only when PAPERBOY_METRICS_TOKEN or PAPERBOY_METRICS_ALLOW is set (404 without
either), and only to a client that passes every one set: the Bearer token (401 otherwise), an
address in one of the networks (403 otherwise).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from celery.exceptions import Retry
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from digest.ledger import Outcome
    from digest.transport import OutgoingDigest

P = ParamSpec("P")
R = TypeVar("R")


def process_id() -> str:
    """This process's name for its metric files: host and pid, unique across containers.

    Every container numbers its processes from 1, so containers sharing the directory would
    write each other's files if the pid alone named them.
    """
    return f"{socket.gethostname()}-{os.getpid()}"


MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROCESS_DIR:
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)
    # Read by every metric below as it is made, so it must be set before any of them.
    values.ValueClass = values.MultiProcessValue(process_identifier=process_id)

DELIVERIES = Counter(
    "paperboy_deliveries",
    "Digests handed to a transport, by outcome: sent, failed (refused), deferred (a transient "
    "failure, retried), held (by a sending limit), skipped (never sent).",
    ["status", "provider"],
)
# Labelled, like every metric here, so that a process writes a file only once it counts something
# (not the migrate job, nor each run of the beat's health check).
SEND_BATCH_SECONDS = Histogram(
    "paperboy_send_batch_duration_seconds",
    "How long one run of the send batch task took, by outcome: done, retry (it raised Retry), "
    "error.",
    ["outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
WEBHOOK_EVENTS = Counter(
    "paperboy_webhook_events",
    "Tracking events received from the email provider, by provider and Anymail's event type.",
    ["esp", "type"],
)


# --- Counting -----------------------------------------------------------------------------------


def email_provider() -> str:
    """The email provider's name ("postmark", "amazon_ses"), else the backend's ("smtp")."""
    return settings.EMAIL_PROVIDER or str(settings.EMAIL_BACKEND).split(".")[-2]


def _provider(digest: OutgoingDigest, email: str) -> str:
    if digest.via == "email":
        return email
    if digest.channel is not None:
        return digest.channel.kind  # slack, discord, webhook
    return digest.via  # feed


def deliveries_count(
    *,
    digests: Sequence[OutgoingDigest],
    outcomes: Iterable[Outcome],
    deferred: Sequence[OutgoingDigest] = (),
    held: Sequence[OutgoingDigest] = (),
) -> None:
    """Count one hand-over: each outcome, and the digests deferred for a retry or held back.

    An outcome without a digest (a reader who left before it was assembled) has provider "none".
    """
    email = email_provider()
    providers = {d.claimed.delivery_id: _provider(d, email) for d in digests}
    for outcome in outcomes:
        DELIVERIES.labels(outcome.status, providers.get(outcome.delivery_id, "none")).inc()
    for status, group in (("deferred", deferred), ("held", held)):
        for digest in group:
            DELIVERIES.labels(status, providers[digest.claimed.delivery_id]).inc()


def batch_timed(task: Callable[P, R]) -> Callable[P, R]:
    """Observe how long each run of the decorated send batch task takes, and how it ended."""

    @wraps(task)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = task(*args, **kwargs)
        except Retry:
            outcome = "retry"
            raise
        else:
            outcome = "done"
            return result
        finally:
            SEND_BATCH_SECONDS.labels(outcome).observe(time.perf_counter() - started)

    return timed


def webhook_event_count(*, esp: str, event_type: str) -> None:
    """Count one tracking event received from a provider."""
    WEBHOOK_EVENTS.labels(esp, event_type).inc()


# --- Scraping -----------------------------------------------------------------------------------


class _Counted(Collector):
    """This process's own metrics (without PROMETHEUS_MULTIPROC_DIR: there is no other)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def metrics_registry(*, path: str | None = None) -> CollectorRegistry:
    """Every metric: all processes' (from `path` or PROMETHEUS_MULTIPROC_DIR) and the state's."""
    registry = CollectorRegistry()
    if path or MULTIPROCESS_DIR:
        multiprocess.MultiProcessCollector(registry, path=path or MULTIPROCESS_DIR)
    else:
        registry.register(_Counted())
    from config.health import StateCollector  # noqa: PLC0415 (it reads the apps' models)

    registry.register(StateCollector())
    return registry


# --- The view -----------------------------------------------------------------------------------


def _bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _address_allowed(request: HttpRequest, networks: Sequence[str]) -> bool:
    # The connection's own address, never X-Forwarded-For: a client could write anything there.
    # A request that came through a proxy has the proxy's address, which may well be inside the
    # networks: the proxy's header gives it away, and it is refused.
    if "X-Forwarded-For" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    """Why this request may not read the metrics (a 404, 401 or 403), or None if it may."""
    token = settings.PAPERBOY_METRICS_TOKEN
    networks = settings.PAPERBOY_METRICS_ALLOW
    if not token and not networks:
        return HttpResponseNotFound("Not found.", content_type="text/plain")
    if token and not hmac.compare_digest(_bearer_token(request).encode(), token.encode()):
        refused = HttpResponse("A valid Bearer token is required.", status=401)
        refused["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refused
    if networks and not _address_allowed(request, networks):
        return HttpResponseForbidden("Not allowed from this address.", content_type="text/plain")
    return None


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: Prometheus' text format, for a client the settings allow."""
    if (refusal := metrics_refusal(request)) is not None:
        return refusal
    return HttpResponse(
        generate_latest(metrics_registry()), content_type="text/plain; version=0.0.4; charset=utf-8"
    )
