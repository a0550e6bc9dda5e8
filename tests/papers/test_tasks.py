"""The scheduled tasks: they call the services, retry transient failures, and give up on permanent ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import requests
import responses
from django.test import override_settings
from urllib3.util.retry import Retry

from config.celery import app
from papers import tasks
from papers.models import FetchRun, Paper, Source
from papers.sources import arxiv_api, hf_api
from papers.sources.http import TransientFetchError
from tests.conftest import fixture_bytes

pytestmark = pytest.mark.django_db

HF_DAY = "hf_daily_papers/DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json"
RSS_ATOM = "arxiv_rss/2025-08-20_atom-feed_cs.AI_TRUNCATED-86-entries_closed.xml"
ARXIV_TWO_IDS = "arxiv_atom/2026-04-12_api_query_idlist-two-ids-one-nonexistent.xml"
HTTP_ATTEMPTS = 3  # settings_test: PAPERBOY_HTTP_RETRIES = 2, so 3 requests per task attempt


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Retry, "get_backoff_time", lambda self: 0)


@pytest.fixture
def retrying_eagerly() -> Iterator[None]:
    """Let eager tasks run their retries in place (with propagation on, the first Retry escapes instead)."""
    propagates = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = propagates


def test_the_beat_schedule_names_these_tasks() -> None:
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled == {tasks.fetch_hf_today.name, tasks.fetch_arxiv_today.name}


def test_the_tasks_retry_only_transient_failures_with_backoff() -> None:
    for task in (tasks.fetch_hf_today, tasks.fetch_arxiv_today, tasks.fetch_papers_by_id):
        assert task.autoretry_for == (TransientFetchError,)
        assert task.acks_late and task.retry_backoff and task.retry_jitter
        assert task.max_retries == 5


def test_fetch_hf_today_fetches_the_current_utc_day(time_machine) -> None:
    time_machine.move_to(dt.datetime(2025, 11, 20, 23, 5, tzinfo=dt.UTC))
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=fixture_bytes(HF_DAY))
        run_id = tasks.fetch_hf_today.delay().get()
        assert mock.calls[0].request.params["date"] == "2025-11-20"

    run = FetchRun.objects.get(pk=run_id)
    assert (run.source, run.status, run.created) == (Source.HF, FetchRun.Status.SUCCEEDED, 12)


@override_settings(PAPERBOY_ARXIV_CATEGORIES=["cs.AI", "cs.CL"])
def test_fetch_arxiv_today_reads_the_feed_of_the_configured_categories() -> None:
    with responses.RequestsMock() as mock:
        mock.get("https://rss.arxiv.org/rss/cs.AI+cs.CL", body=fixture_bytes(RSS_ATOM))
        run_id = tasks.fetch_arxiv_today.delay().get()

    run = FetchRun.objects.get(pk=run_id)
    assert (run.source, run.status, run.created) == (Source.ARXIV_RSS, FetchRun.Status.SUCCEEDED, 86)


def test_fetch_papers_by_id_fetches_those_papers_from_the_api() -> None:
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, body=fixture_bytes(ARXIV_TWO_IDS))
        tasks.fetch_papers_by_id.delay(["0808.05394", "1707.08567"]).get()
        assert mock.calls[0].request.params["id_list"] == "0808.05394,1707.08567"

    assert list(Paper.objects.values_list("arxiv_id", flat=True)) == ["1707.08567"]


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 503, "body": b"unavailable"},
        {"status": 429, "headers": {"Retry-After": "0"}},
        {"body": requests.exceptions.ConnectTimeout("timed out")},
    ],
    ids=["503", "429", "timeout"],
)
def test_a_transient_failure_is_retried_until_max_retries(failure: dict, retrying_eagerly: None) -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, **failure)
        result = tasks.fetch_hf_today.apply()
        calls = len(mock.calls)

    assert result.state == "FAILURE"
    assert isinstance(result.result, TransientFetchError)

    attempts = 1 + tasks.fetch_hf_today.max_retries
    assert FetchRun.objects.filter(status=FetchRun.Status.FAILED).count() == attempts
    # A timeout is raised by the stub before urllib3 can retry it; status codes are retried by the client too.
    assert calls == attempts * (1 if "status" not in failure else HTTP_ATTEMPTS)


def test_a_transient_failure_then_success_recovers_on_retry(retrying_eagerly: None) -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=requests.exceptions.ConnectionError("reset"))
        mock.get(hf_api.API_URL, body=fixture_bytes(HF_DAY))
        run_id = tasks.fetch_hf_today.apply().get()

    assert FetchRun.objects.get(pk=run_id).status == FetchRun.Status.SUCCEEDED
    assert list(FetchRun.objects.order_by("pk").values_list("status", flat=True)) == ["failed", "succeeded"]
    assert Paper.objects.count() == 12


def test_a_permanent_failure_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    retried = []
    monkeypatch.setattr(tasks.fetch_hf_today, "retry", lambda *a, **k: retried.append(k))
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=b'[{"paper": {"id": "2511.1')
        run_id = tasks.fetch_hf_today.delay().get()
        assert len(mock.calls) == 1

    run = FetchRun.objects.get(pk=run_id)
    assert run.status == FetchRun.Status.FAILED
    assert "invalid JSON" in run.error
    assert retried == []
    assert FetchRun.objects.count() == 1
