"""/metrics: who may read it, every family the operators asked for, and the sum over processes."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import time_machine
from celery.exceptions import Retry
from django.test import Client
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from config import gunicorn, health, metrics
from config.metrics import metrics_registry
from digest import sending, tasks, vectors
from digest.models import Delivery
from papers.models import FetchRun
from tests.factories import FetchRunFactory, papers_create, reader_create
from tests.fakes import fake_embed
from tests.helpers import POSTMARK_WEBHOOK, ROOT, WEBHOOK_SECRET, basic_auth

pytestmark = pytest.mark.django_db
TOKEN = "s3cret-metrics-token"
TUESDAY_8AM = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


def scrape(client: Client, **headers: Any) -> dict[str, dict[tuple[str, frozenset], float]]:
    """{family: {(sample name, labels): value}} from /metrics, which must answer 200."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        family.name: {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for sample in family.samples
        }
        for family in text_string_to_metric_families(response.content.decode())
    }


def value(families: dict, family: str, sample: str | None = None, **labels: str) -> float:
    return families[family].get((sample or family, frozenset(labels.items())), 0.0)


# --- Who may read them --------------------------------------------------------------------------


def test_without_a_token_or_networks_there_are_no_metrics(client: Client) -> None:
    assert client.get("/metrics").status_code == 404


def test_the_token_is_required_and_checked(client: Client, settings: Any) -> None:
    settings.PAPERBOY_METRICS_TOKEN = TOKEN

    missing = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    basic = client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}")
    right = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert [missing.status_code, wrong.status_code, basic.status_code] == [401, 401, 401]
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert right.status_code == 200


def test_the_allow_list_checks_the_connection_not_x_forwarded_for(
    client: Client, settings: Any
) -> None:
    settings.PAPERBOY_METRICS_ALLOW = ["10.0.0.0/8", "::1/128"]

    inside = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    ipv6 = client.get("/metrics", REMOTE_ADDR="::1")
    outside = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.1.2.3")
    # The proxy's own address is inside, but the client it forwards is not.
    proxied = client.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert [inside.status_code, ipv6.status_code] == [200, 200]
    assert [outside.status_code, proxied.status_code] == [403, 403]


def test_with_both_set_a_client_needs_both(client: Client, settings: Any) -> None:
    settings.PAPERBOY_METRICS_TOKEN = TOKEN
    settings.PAPERBOY_METRICS_ALLOW = ["10.0.0.0/8"]
    bearer = f"Bearer {TOKEN}"

    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 401
    assert (
        client.get("/metrics", REMOTE_ADDR="8.8.8.8", HTTP_AUTHORIZATION=bearer).status_code == 403
    )
    assert (
        client.get("/metrics", REMOTE_ADDR="10.0.0.7", HTTP_AUTHORIZATION=bearer).status_code == 200
    )


def test_prometheus_gets_them_from_inside_under_production_settings(
    client: Client, settings: Any
) -> None:
    settings.PAPERBOY_METRICS_TOKEN = TOKEN
    settings.ALLOWED_HOSTS = ["paperboy.example.org"]
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/metrics", HTTP_HOST="web:8000", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200


# --- What they say ------------------------------------------------------------------------------


@pytest.fixture
def reading(client: Client, settings: Any, tmp_path: Path) -> Any:
    settings.PAPERBOY_METRICS_TOKEN = TOKEN
    settings.VAR_DIR = tmp_path  # where the tick's time goes with a cache of one process
    return lambda: scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


def test_every_family_is_there_with_its_labels_after_a_batch_a_fetch_and_a_webhook(
    client: Client,
    reading: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    before = reading()
    papers_create()
    reader_create(delivery_hour=8)
    reader_create(delivery_hour=8, via="feed")
    FetchRunFactory.create(source="arxiv", status=FetchRun.Status.FAILED, failures=3)
    FetchRunFactory.create(source="hf")

    with (
        time_machine.travel(TUESDAY_8AM, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.tick()
    webhook = client.post(
        POSTMARK_WEBHOOK,
        json.dumps({"RecordType": "Delivery", "MessageID": "m-1", "Recipient": "x@example.org"}),
        content_type="application/json",
        **basic_auth(WEBHOOK_SECRET),
    )
    # The feed reader's delivery, as a crashed batch would leave it.
    Delivery.objects.filter(subscriber__via="feed").update(
        status=Delivery.Status.SENDING, claimed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    after = reading()

    def grew(family: str, sample: str | None = None, **labels: str) -> float:
        return value(after, family, sample, **labels) - value(before, family, sample, **labels)

    assert webhook.status_code == 200
    assert (
        grew("paperboy_deliveries", "paperboy_deliveries_total", status="sent", provider="locmem")
        == 1
    )
    assert (
        grew("paperboy_deliveries", "paperboy_deliveries_total", status="sent", provider="feed")
        == 1
    )
    assert (
        grew(
            "paperboy_send_batch_duration_seconds",
            "paperboy_send_batch_duration_seconds_count",
            outcome="done",
        )
        == 1
    )
    assert (
        grew(
            "paperboy_webhook_events",
            "paperboy_webhook_events_total",
            esp="Postmark",
            type="delivered",
        )
        == 1
    )
    assert (
        value(
            after,
            "paperboy_fetch_runs",
            "paperboy_fetch_runs_total",
            source="arxiv",
            status="failed",
        )
        == 3
    )
    assert (
        value(
            after,
            "paperboy_fetch_runs",
            "paperboy_fetch_runs_total",
            source="hf",
            status="succeeded",
        )
        == 1
    )
    assert value(after, "paperboy_fetch_last_success_timestamp_seconds", source="hf") > 0
    assert value(after, "paperboy_tick_last_timestamp_seconds") == TUESDAY_8AM.timestamp()
    assert value(after, "paperboy_stuck_claims") == 1
    assert value(after, "paperboy_deliveries_in_flight", status="sending") == 1
    assert value(after, "paperboy_deliveries_in_flight", status="queued") == 0
    assert {dict(labels)["queue"] for _, labels in after["paperboy_queue_depth"]} == {
        "default",
        "fetch",
        "send",
    }
    assert {
        value(after, "paperboy_scrape_errors", part=p) for p in ("ledger", "fetch", "queues")
    } == {0}


def test_a_part_that_cannot_be_read_is_flagged_and_the_rest_still_served(
    reading: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Any:
        raise RuntimeError("the fetch table is gone")

    monkeypatch.setattr(health, "fetch_run_counts", broken)

    families = reading()

    assert value(families, "paperboy_scrape_errors", part="fetch") == 1
    assert value(families, "paperboy_scrape_errors", part="ledger") == 0
    assert "paperboy_fetch_runs" not in families
    assert "paperboy_stuck_claims" in families


# --- Several processes --------------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys
    from config import metrics

    for _ in range(int(sys.argv[1])):
        metrics.webhook_event_count(esp="Postmark", event_type="opened")
    metrics.batch_timed(lambda: None)()
    print(metrics.process_id())
    """
)


def test_the_counts_of_several_processes_add_up_in_one_scrape(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    names = [
        subprocess.run(
            [sys.executable, "-c", WORKER, str(count)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        for count in (2, 5)
    ]
    # gunicorn's hook for an exited worker keeps its counters in the totals.
    gunicorn.child_exit(None, type("Worker", (), {"pid": int(names[0].rsplit("-", 1)[1])}))

    text = generate_latest(metrics_registry(path=str(tmp_path))).decode()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    assert len(set(names)) == 2
    assert all(name.startswith(f"{socket.gethostname()}-") for name in names)
    assert {p.name for p in tmp_path.iterdir()} == {
        f"{kind}_{name}.db" for kind in ("counter", "histogram") for name in names
    }
    events = ("paperboy_webhook_events_total", frozenset({("esp", "Postmark"), ("type", "opened")}))
    assert samples[events] == 7
    batches = ("paperboy_send_batch_duration_seconds_count", frozenset({("outcome", "done")}))
    assert samples[batches] == 2


def test_a_batch_that_raises_retry_or_fails_is_timed_as_such() -> None:
    def retrying() -> None:
        raise Retry("provider said 503")

    def failing() -> None:
        raise ValueError("a bug")

    sample = "paperboy_send_batch_duration_seconds_count"
    before = [REGISTRY.get_sample_value(sample, {"outcome": o}) or 0 for o in ("retry", "error")]
    with pytest.raises(Retry):
        metrics.batch_timed(retrying)()
    with pytest.raises(ValueError, match="a bug"):
        metrics.batch_timed(failing)()

    after = [REGISTRY.get_sample_value(sample, {"outcome": o}) for o in ("retry", "error")]
    assert after == [before[0] + 1, before[1] + 1]


def test_the_grafana_dashboard_asks_only_for_metrics_that_exist() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana" / "paperboy.json").read_text())
    asked = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"paperboy_\w+", target["expr"])
    }
    # A histogram's series: its family, even before anything was observed.
    asked = {re.sub(r"_(bucket|count|sum)$", "", name) for name in asked}
    exposed = set(re.findall(r"paperboy_\w+", generate_latest(metrics_registry()).decode()))

    assert len(asked) >= 10
    assert asked <= exposed
