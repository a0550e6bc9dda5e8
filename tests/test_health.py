"""/healthz and /readyz: what a load balancer and Docker's health checks are told, and why."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.test import Client
from kombu import Connection

from config import health
from config.celery import app
from digest import tasks
from papers.models import FetchRun
from tests.factories import FetchRunFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 24, 8, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _var_dir(settings: Any, tmp_path: Path) -> None:
    """The last tick's file (the cache being one per process here) in a folder of the test's."""
    settings.VAR_DIR = tmp_path


def fetched(source: str, *, hours_ago: float, status: str = FetchRun.Status.SUCCEEDED) -> None:
    finished = NOW - dt.timedelta(hours=hours_ago)
    run = FetchRunFactory.create(source=source, status=status, finished_at=finished)
    FetchRun.objects.filter(pk=run.pk).update(started_at=finished - dt.timedelta(seconds=5))


def all_fresh() -> None:
    fetched("hf", hours_ago=1)
    fetched("arxiv", hours_ago=7)
    health.tick_record(now=NOW - dt.timedelta(minutes=30))


def ready(client: Client, **headers: Any) -> tuple[int, dict[str, Any]]:
    with time_machine.travel(NOW, tick=False):
        response = client.get("/readyz", **headers)
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.status_code, json.loads(response.content)


def test_healthz_answers_without_reading_the_database(
    client: Client, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}


def test_readyz_is_a_200_with_every_check_ok_and_its_figure(client: Client) -> None:
    all_fresh()

    code, body = ready(client)

    assert code == 200
    assert body["status"] == "ok"
    checks = body["checks"]
    assert list(checks) == [
        "database",
        "cache",
        "broker",
        "send_queue",
        "fetch_hf",
        "fetch_arxiv",
        "tick",
    ]
    assert {check["status"] for check in checks.values()} == {"ok"}
    assert checks["fetch_hf"]["age_seconds"] == 3600
    assert checks["fetch_arxiv"]["max_age_seconds"] == 26 * 3600
    assert checks["tick"]["age_seconds"] == 1800
    assert checks["send_queue"]["depth"] == 0
    assert checks["send_queue"]["deliveries"] == {"queued": 0, "sending": 0}
    assert checks["database"]["seconds"] >= 0


def test_probes_answer_an_internal_host_over_plain_http_under_production_settings(
    client: Client, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["paperboy.example.org"]
    settings.SECURE_SSL_REDIRECT = True

    home = client.get("/", HTTP_HOST="web:8000")
    probes = [client.get(path, HTTP_HOST="web:8000") for path in ("/healthz", "/readyz")]

    assert home.status_code == 400  # Django's host check still guards every page
    assert [probe.status_code for probe in probes] == [200, 200]


def test_a_probe_takes_only_get_and_head(client: Client) -> None:
    assert client.head("/readyz").status_code == 200
    refused = client.post("/readyz")
    assert refused.status_code == 405
    assert refused["Allow"] == "GET, HEAD"


def test_readyz_is_a_503_when_the_database_is_down_and_says_which_check_failed(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    all_fresh()

    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError('could not connect to server "db.internal" (10.0.0.5)')

    monkeypatch.setattr(connection, "cursor", down)
    code, body = ready(client)

    assert code == 503
    assert body["status"] == "failing"
    assert body["checks"]["database"] == {"status": "failing", "error": "OperationalError"}
    assert body["checks"]["cache"]["status"] == "ok"
    # What needed the database is reported unreadable, and no host name leaks out.
    assert body["checks"]["fetch"] == {"status": "warn", "error": "OperationalError"}
    assert "10.0.0.5" not in json.dumps(body)


def test_readyz_is_a_503_when_the_broker_is_down(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    all_fresh()
    # Nothing listens on port 1: the connection is refused at once.
    monkeypatch.setattr(
        app, "connection_for_read", lambda **kw: Connection("redis://127.0.0.1:1/0")
    )

    code, body = ready(client)

    assert code == 503
    assert body["checks"]["broker"]["status"] == "failing"
    assert "send_queue" not in body["checks"]


def test_a_stale_fetch_only_warns_so_the_web_stays_in_rotation(client: Client) -> None:
    all_fresh()
    FetchRun.objects.filter(source="arxiv").delete()
    fetched("arxiv", hours_ago=30)
    fetched("arxiv", hours_ago=1, status=FetchRun.Status.FAILED)

    code, body = ready(client)

    assert code == 200
    assert body["status"] == "warn"
    assert body["checks"]["fetch_arxiv"]["status"] == "warn"
    assert body["checks"]["fetch_arxiv"]["age_seconds"] == 30 * 3600
    assert body["checks"]["fetch_hf"]["status"] == "ok"


def test_the_hf_html_fallback_keeps_hf_fresh_and_a_source_never_fetched_warns(
    client: Client,
) -> None:
    health.tick_record(now=NOW)
    fetched("hf-html", hours_ago=2)

    _, body = ready(client)

    assert body["checks"]["fetch_hf"]["status"] == "ok"
    assert body["checks"]["fetch_arxiv"] == {
        "status": "warn",
        "last": None,
        "max_age_seconds": 26 * 3600,
    }


def test_a_stale_tick_warns_and_the_threshold_is_a_setting(client: Client, settings: Any) -> None:
    all_fresh()
    health.tick_record(now=NOW - dt.timedelta(hours=3))

    _, stale = ready(client)
    settings.PAPERBOY_HEALTH_TICK_MAX_AGE_MINUTES = 240
    code, tolerated = ready(client)

    assert stale["checks"]["tick"]["status"] == "warn"
    assert stale["checks"]["tick"]["age_seconds"] == 3 * 3600
    assert code == 200
    assert tolerated["checks"]["tick"]["status"] == "ok"


def test_the_hourly_tick_records_its_time_for_every_process_to_read(settings: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        tasks.tick()

    assert health.tick_last() == NOW
    # The cache is one per process here: the time is in the var folder, which they share.
    assert (Path(settings.VAR_DIR) / health.TICK_FILE_NAME).read_text() == str(NOW.timestamp())


def test_an_unreadable_tick_record_counts_as_none(settings: Any) -> None:
    (Path(settings.VAR_DIR) / health.TICK_FILE_NAME).write_text("not a time")

    assert health.tick_last() is None


def test_the_beat_health_check_command_passes_only_with_a_recent_tick() -> None:
    with time_machine.travel(NOW, tick=False):
        with pytest.raises(CommandError, match="Not healthy"):
            call_command("health_check", "tick", stdout=open(os.devnull, "w"))  # noqa: SIM115
        health.tick_record(now=NOW - dt.timedelta(minutes=59))
        call_command("health_check", "tick", stdout=open(os.devnull, "w"))  # noqa: SIM115
        with pytest.raises(CommandError, match="No such check: tock"):
            call_command("health_check", "tock")


# --- With the real Redis ------------------------------------------------------------------------


@pytest.fixture
def redis_cache(settings: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"test-health-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def send_queue(settings: Any) -> Iterator[str]:
    """A send queue of the test's own on the real broker, emptied afterwards."""
    name = f"test-send-{uuid.uuid4().hex}"
    settings.PAPERBOY_SEND_QUEUE = name
    yield name
    with app.connection_for_write() as broker:
        queue = broker.SimpleQueue(name)
        queue.clear()
        queue.queue.delete()  # and its binding
        queue.close()


@pytest.mark.redis
@pytest.mark.usefixtures("redis_cache")
def test_the_tick_time_goes_through_the_shared_cache_with_redis(settings: Any) -> None:
    health.tick_record(now=NOW)

    assert health.tick_last() == NOW
    assert not (Path(settings.VAR_DIR) / health.TICK_FILE_NAME).exists()


@pytest.mark.redis
@pytest.mark.usefixtures("redis_cache")
def test_the_send_queue_depth_is_read_from_redis_and_warns_past_its_limit(
    client: Client, settings: Any, send_queue: str
) -> None:
    assert app.conf.broker_url.startswith("redis://")
    all_fresh()
    settings.PAPERBOY_HEALTH_SEND_QUEUE_MAX = 2
    with app.connection_for_write() as broker:
        queue = broker.SimpleQueue(send_queue)
        for number in range(3):
            queue.put({"batch": number})

    code, body = ready(client)

    assert health.queue_depths(queues=[send_queue]) == {send_queue: 3}
    assert code == 200
    assert body["checks"]["send_queue"]["status"] == "warn"
    assert body["checks"]["send_queue"]["depth"] == 3
    assert body["checks"]["cache"]["status"] == "ok"
