"""Health: /healthz (the process answers), /readyz (can it serve, and is the work on time).

/readyz runs each check and reports its figures with "ok", "warn" or "failing":

- database, cache, broker: what a request needs. One failing makes the answer a 503, so a load
  balancer sends the traffic to another web process (or, if all fail, shows its own error page).
- the last successful fetch of each scheduled source, the last hourly tick, the send queue's
  depth: staleness and backlog. These only "warn" (the answer stays a 200): taking the site out
  of rotation because arXiv is down or the worker is slow would not bring a paper or an email
  sooner, and would hide pages that work. Alerts read them from /metrics.

The probes are answered by `probe_answer`, a middleware placed before Django's host and HTTPS
checks: a probe from inside the network (Docker's health check, Prometheus scraping web:8000)
names no public host and speaks plain HTTP, and must get the answer, not a 400 or a redirect.

The figures /metrics reads from the database and the broker at scrape time are here too
(StateCollector), as cheap as the checks: indexed counts of in-flight rows, never the ledger.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.db.models import Count, Max, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from config.celery import app as celery_app
from digest.ledger import OPEN_STATUSES
from digest.models import Delivery, DeliveryStatus, Issue
from papers.models import FetchRun, Source

logger = logging.getLogger(__name__)

OK, WARN, FAILING = "ok", "warn", "failing"
# What serving a request needs: one of these failing makes the web process not ready.
REQUIRED = ("database", "cache", "broker")
TICK_CACHE_KEY = "paperboy:health:tick-last"
TICK_FILE_NAME = "tick-last"
# The sources the beat fetches, each with the source that stands in when it fails
# (the HF HTML pages when the HF API is down).
SCHEDULED_SOURCES: dict[str, tuple[str, ...]] = {
    Source.HF.value: (Source.HF.value, Source.HF_HTML.value),
    Source.ARXIV.value: (Source.ARXIV.value, Source.ARXIV_RSS.value),
}
# Every check's name, as /readyz and the health_check command show them.
CHECK_NAMES = frozenset(
    {*REQUIRED, "send_queue", "tick", *(f"fetch_{source}" for source in SCHEDULED_SOURCES)}
)
BROKER_TIMEOUT_SECONDS = 3


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN or FAILING
    figures: dict[str, Any] = field(default_factory=dict)


# --- The last tick ------------------------------------------------------------------------------


def _tick_in_cache() -> bool:
    # A local-memory cache is one per process: the worker's tick would be invisible to the web.
    # (`cache` itself is a proxy: the backend is the alias's.)
    return not isinstance(caches[DEFAULT_CACHE_ALIAS], LocMemCache)


def _tick_file() -> Path:
    return Path(settings.VAR_DIR) / TICK_FILE_NAME


def tick_record(*, now: dt.datetime) -> None:
    """Remember that the hourly tick finished now, where every process can read it.

    In the cache when it is shared (Redis), else in a file of the var folder (one machine).
    A failure is logged, never raised: the tick's work is done and must not be retried for this.
    """
    try:
        if _tick_in_cache():
            cache.set(TICK_CACHE_KEY, now.timestamp(), timeout=None)
        else:
            path = _tick_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_text(str(now.timestamp()))
            partial.replace(path)
    except Exception:
        logger.exception("the tick's time was not recorded")


def tick_last() -> dt.datetime | None:
    """When the last hourly tick finished, or None if none is recorded."""
    if _tick_in_cache():
        value = cache.get(TICK_CACHE_KEY)
    else:
        try:
            value = _tick_file().read_text().strip()
        except OSError:
            value = None
    try:
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None


# --- State read for the checks and the metrics ----------------------------------------------------


def deliveries_in_flight() -> dict[str, int]:
    """Queued and claimed deliveries of the issues still going out.

    Counted over the ledger's (issue, status, id) index for those few issues: the rows waiting
    or in a batch, never the sent millions.
    """
    open_ids = list(Issue.objects.filter(status__in=OPEN_STATUSES).values_list("pk", flat=True))
    counts = dict.fromkeys((DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value), 0)
    if open_ids:
        rows = (
            Delivery.objects.filter(issue_id__in=open_ids, status__in=list(counts))
            .order_by()
            .values_list("status")
            .annotate(count=Count("id"))
        )
        counts.update(dict(rows))
    return counts


def stuck_claim_count(*, now: dt.datetime | None = None) -> int:
    """Deliveries claimed longer ago than the claim timeout: a crashed batch's, until the tick."""
    cutoff = (now or timezone.now()) - dt.timedelta(minutes=settings.PAPERBOY_CLAIM_TIMEOUT_MINUTES)
    return Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=cutoff).count()


def fetch_run_counts() -> dict[tuple[str, str], int]:
    """{(source, status): fetch runs}; a failed run counts each failed attempt it stands for.

    The table holds a row per fetch (a few dozen a day), so it is counted whole.
    """
    rows = (
        FetchRun.objects.order_by()
        .values_list("source", "status")
        .annotate(runs=Count("id"), attempts=Sum("failures"))
    )
    return {
        (source, status): max(runs, attempts or 0) if status == FetchRun.Status.FAILED else runs
        for source, status, runs, attempts in rows
    }


def fetch_last_successes() -> dict[str, dt.datetime]:
    """When each source's last successful fetch finished."""
    rows = (
        FetchRun.objects.filter(status=FetchRun.Status.SUCCEEDED)
        .order_by()
        .values_list("source")
        .annotate(last=Max("finished_at"))
    )
    return {source: last for source, last in rows if last is not None}


def queue_names() -> list[str]:
    """The Celery queues tasks are routed to."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return sorted({settings.CELERY_TASK_DEFAULT_QUEUE, *routed})


def queue_depths(*, queues: Sequence[str]) -> dict[str, int]:
    """Messages waiting in each queue of the broker (Redis or the filesystem); raises if down."""
    options = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "max_retries": 1,
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
    }
    with celery_app.connection_for_read(
        transport_options=options, connect_timeout=BROKER_TIMEOUT_SECONDS
    ) as broker:
        broker.ensure_connection(
            max_retries=1, interval_start=0, interval_step=1, timeout=BROKER_TIMEOUT_SECONDS
        )
        # Typed as kombu's abstract StdChannel; a broker's channel is a virtual transport's.
        channel: Any = broker.default_channel
        # Declaring a queue of these transports only reads its size: it creates nothing.
        return {name: int(channel.queue_declare(queue=name).message_count) for name in queues}


# --- The checks ---------------------------------------------------------------------------------


def _timed(name: str, probe: Callable[[], object]) -> Check:
    """Run a required check: ok with how long it took, or failing with the error's kind."""
    started = time.monotonic()
    try:
        probe()
    except Exception as error:
        logger.warning("readiness check failing", extra={"check": name, "error": repr(error)})
        return Check(name, FAILING, {"error": type(error).__name__})
    return Check(name, OK, {"seconds": round(time.monotonic() - started, 4)})


def _database_probe() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache_probe() -> None:
    key = f"paperboy:health:probe:{os.getpid()}"
    cache.set(key, "1", timeout=30)
    if cache.get(key) != "1":
        raise RuntimeError("the cache lost what was just written")


def _age_check(name: str, last: dt.datetime | None, *, now: dt.datetime, limit: int) -> Check:
    """Warn when `last` is older than `limit` seconds, or when there is none."""
    if last is None:
        return Check(name, WARN, {"last": None, "max_age_seconds": limit})
    age = int((now - last).total_seconds())
    status = OK if age <= limit else WARN
    return Check(
        name, status, {"last": last.isoformat(), "age_seconds": age, "max_age_seconds": limit}
    )


def fetch_checks(*, now: dt.datetime) -> list[Check]:
    """One check per scheduled source: its (or its stand-in's) last success, warned when old."""
    last = fetch_last_successes()
    limit = settings.PAPERBOY_HEALTH_FETCH_MAX_AGE_HOURS * 3600
    checks = []
    for source, group in SCHEDULED_SOURCES.items():
        times = [last[s] for s in group if s in last]
        checks.append(_age_check(f"fetch_{source}", max(times, default=None), now=now, limit=limit))
    return checks


def tick_check(*, now: dt.datetime) -> Check:
    """The last hourly tick, warned when older than PAPERBOY_HEALTH_TICK_MAX_AGE_MINUTES."""
    limit = settings.PAPERBOY_HEALTH_TICK_MAX_AGE_MINUTES * 60
    return _age_check("tick", tick_last(), now=now, limit=limit)


def _soft(name: str, probe: Callable[[], list[Check]]) -> list[Check]:
    """Run a staleness check; if it cannot read (the database is down), a warning says so."""
    try:
        return probe()
    except Exception as error:
        logger.warning("readiness check unreadable", extra={"check": name, "error": repr(error)})
        return [Check(name, WARN, {"error": type(error).__name__})]


def _broker_checks() -> list[Check]:
    """The broker answering, and the send queue's depth (with the ledger's own backlog)."""
    send_queue = settings.PAPERBOY_SEND_QUEUE
    depths: dict[str, int] = {}
    broker = _timed("broker", lambda: depths.update(queue_depths(queues=[send_queue])))
    if broker.status != OK:
        return [broker]

    def send_queue_check() -> list[Check]:
        limit = settings.PAPERBOY_HEALTH_SEND_QUEUE_MAX
        depth = depths[send_queue]
        status = WARN if limit and depth > limit else OK
        figures = {"depth": depth, "max": limit, "deliveries": deliveries_in_flight()}
        return [Check("send_queue", status, figures)]

    return [broker, *_soft("send_queue", send_queue_check)]


def readiness(*, now: dt.datetime | None = None) -> list[Check]:
    """Every readiness check, required ones first."""
    now = now or timezone.now()
    return [
        _timed("database", _database_probe),
        _timed("cache", _cache_probe),
        *_broker_checks(),
        *_soft("fetch", lambda: fetch_checks(now=now)),
        *_soft("tick", lambda: [tick_check(now=now)]),
    ]


def readiness_status(checks: Sequence[Check]) -> str:
    """failing if a required check fails, warn if any check warns or fails, else ok."""
    if any(c.status == FAILING and c.name in REQUIRED for c in checks):
        return FAILING
    return WARN if any(c.status != OK for c in checks) else OK


def readiness_report(checks: Sequence[Check]) -> dict[str, Any]:
    """The checks as /readyz shows them."""
    return {
        "status": readiness_status(checks),
        "checks": {c.name: {"status": c.status, **c.figures} for c in checks},
    }


# --- The views ----------------------------------------------------------------------------------


def _probe_response(body: dict[str, Any], *, status: int = 200) -> HttpResponse:
    response = JsonResponse(body, status=status, json_dumps_params={"indent": 1})
    response["Cache-Control"] = "no-store"
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    """GET /healthz: the process is up and answers. Reads nothing."""
    return _probe_response({"status": OK})


def readyz(request: HttpRequest) -> HttpResponse:
    """GET /readyz: every check; a 503 when a required one fails, else a 200 (warnings or not)."""
    report = readiness_report(readiness())
    return _probe_response(report, status=503 if report["status"] == FAILING else 200)


def _metrics(request: HttpRequest) -> HttpResponse:
    from config.metrics import metrics_view  # noqa: PLC0415 (its counters load only where used)

    return metrics_view(request)


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": _metrics,
}


def probe_answer(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Answer /healthz, /readyz and /metrics before the host and HTTPS checks (see above)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        view = PROBES.get(request.path_info)
        if view is None:
            return get_response(request)
        if request.method not in ("GET", "HEAD"):
            refused = HttpResponse("Only GET and HEAD.", status=405, content_type="text/plain")
            refused["Allow"] = "GET, HEAD"
            return refused
        return view(request)

    return middleware


# --- The metrics read at scrape time ------------------------------------------------------------


class StateCollector(Collector):
    """Figures from the database and the broker, read when /metrics is scraped."""

    def collect(self) -> Iterator[Metric]:
        errors = GaugeMetricFamily(
            "paperboy_scrape_errors",
            "1 where a part of the scrape could not be read.",
            labels=["part"],
        )
        for part, read in (("ledger", _ledger_metrics), ("fetch", _fetch_metrics)):
            try:
                families = list(read())
            except Exception as error:
                logger.warning("metrics unreadable", extra={"part": part, "error": repr(error)})
                errors.add_metric([part], 1)
                continue
            errors.add_metric([part], 0)
            yield from families
        try:
            depths = queue_depths(queues=queue_names())
        except Exception as error:
            logger.warning("metrics unreadable", extra={"part": "queues", "error": repr(error)})
            errors.add_metric(["queues"], 1)
        else:
            errors.add_metric(["queues"], 0)
            depth = GaugeMetricFamily(
                "paperboy_queue_depth",
                "Task messages waiting in each Celery queue.",
                labels=["queue"],
            )
            for queue, count in depths.items():
                depth.add_metric([queue], count)
            yield depth
        yield errors


def _ledger_metrics() -> Iterator[Metric]:
    in_flight = GaugeMetricFamily(
        "paperboy_deliveries_in_flight",
        "Deliveries of the issues still going out, queued or claimed by a batch.",
        labels=["status"],
    )
    for status, count in deliveries_in_flight().items():
        in_flight.add_metric([status], count)
    yield in_flight
    yield GaugeMetricFamily(
        "paperboy_stuck_claims",
        "Deliveries claimed longer ago than PAPERBOY_CLAIM_TIMEOUT_MINUTES (a crashed batch's).",
        value=stuck_claim_count(),
    )
    tick = GaugeMetricFamily(
        "paperboy_tick_last_timestamp_seconds", "When the last hourly tick finished (Unix time)."
    )
    if (last := tick_last()) is not None:
        tick.add_metric([], last.timestamp())
    yield tick


def _fetch_metrics() -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "paperboy_fetch_runs",
        "Fetch runs by source and status; a failed run counts each failed attempt it stands for.",
        labels=["source", "status"],
    )
    for (source, status), count in sorted(fetch_run_counts().items()):
        runs.add_metric([source, status], count)
    yield runs
    last = GaugeMetricFamily(
        "paperboy_fetch_last_success_timestamp_seconds",
        "When each source's last successful fetch finished (Unix time).",
        labels=["source"],
    )
    for source, finished in sorted(fetch_last_successes().items()):
        last.add_metric([source], finished.timestamp())
    yield last


def report_json(checks: Sequence[Check]) -> str:
    """The report of these checks as JSON text (for the health_check command)."""
    return json.dumps(readiness_report(checks), indent=1)
