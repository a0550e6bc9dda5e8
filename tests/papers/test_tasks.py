"""Scheduled tasks: they call the services, retry transient failures, give up on permanent ones."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import requests
import responses
from django.test import override_settings
from responses import matchers
from urllib3.util.retry import Retry

from config.celery import app
from digest.tasks import ledger_prune, tick
from papers import tasks
from papers.models import FetchRun, Paper, Source
from papers.sources import arxiv_api, hf_api, hf_html
from papers.sources.http import TransientFetchError
from tests.helpers import fixture_bytes, sent_params

pytestmark = pytest.mark.django_db

HF_DAY = "hf_daily_papers/DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json"
RSS_ATOM = "arxiv_rss/2025-08-20_atom-feed_cs.AI_TRUNCATED-86-entries_closed.xml"
ARXIV_TWO_IDS = "arxiv_atom/2026-04-12_api_query_idlist-two-ids-one-nonexistent.xml"
HF_HTML = "hf_papers_html/papers_index_2024-08-01_raw.html"
ANY_HTML_DAY = re.compile(re.escape(hf_html.PAPERS_URL) + r"/date/\d{4}-\d{2}-\d{2}")
HTTP_ATTEMPTS = 3  # settings_test: PAPERBOY_HTTP_RETRIES = 2, so 3 requests per task attempt
# The retry options shared_task sets on a task class (Celery reads them with getattr).
RETRY_OPTIONS = ("autoretry_for", "retry_backoff", "retry_jitter")


def hf_items() -> list[dict]:
    return json.loads(fixture_bytes(HF_DAY))


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Retry, "get_backoff_time", lambda self: 0)


def test_the_beat_schedule_names_these_tasks() -> None:
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled == {
        tasks.fetch_hf_today.name,
        tasks.fetch_arxiv_today.name,
        tick.name,
        ledger_prune.name,
    }
    assert all(name in app.tasks for name in scheduled)


def test_the_tasks_retry_only_transient_failures_with_backoff() -> None:
    for task in (tasks.fetch_hf_today, tasks.fetch_arxiv_today, tasks.fetch_papers_by_id):
        # celery-types does not declare these options on Task: read them by name, as Celery does.
        options = {name: getattr(task, name) for name in RETRY_OPTIONS}
        assert options["autoretry_for"] == (TransientFetchError,)
        assert task.acks_late
        assert options["retry_backoff"]
        assert options["retry_jitter"]
        assert task.max_retries == 5


def on_day(day: str) -> list:
    """Match a daily_papers request for this day (any page)."""
    return [matchers.query_param_matcher({"date": day}, strict_match=False)]


def test_fetch_hf_today_refreshes_today_and_yesterday(time_machine) -> None:
    # Just after midnight today's list is still empty; yesterday's is the one people upvote.
    time_machine.move_to(dt.datetime(2025, 11, 21, 0, 5, tzinfo=dt.UTC))
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, json=[], match=on_day("2025-11-21"))
        mock.get(hf_api.API_URL, body=fixture_bytes(HF_DAY), match=on_day("2025-11-20"))
        run_ids = tasks.fetch_hf_today.delay().get()
        assert [sent_params(call)["date"] for call in mock.calls] == ["2025-11-21", "2025-11-20"]

    today, yesterday = (FetchRun.objects.get(pk=pk) for pk in run_ids)
    assert (today.source, today.status, today.params, today.created) == (
        Source.HF,
        FetchRun.Status.SUCCEEDED,
        {"date": "2025-11-21"},
        0,
    )
    assert (yesterday.source, yesterday.status, yesterday.params, yesterday.created) == (
        Source.HF,
        FetchRun.Status.SUCCEEDED,
        {"date": "2025-11-20"},
        12,
    )
    assert set(Paper.objects.values_list("hf_date", flat=True)) == {dt.date(2025, 11, 20)}


def test_fetch_hf_today_falls_back_to_the_html_page_of_a_day_the_api_fails(time_machine) -> None:
    time_machine.move_to(dt.datetime(2024, 8, 2, 9, 5, tzinfo=dt.UTC))
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, json=[], match=on_day("2024-08-02"))
        mock.get(hf_api.API_URL, status=500, match=on_day("2024-08-01"))
        mock.get(f"{hf_html.PAPERS_URL}/date/2024-08-01", body=fixture_bytes(HF_HTML))
        run_ids = tasks.fetch_hf_today.delay().get()

    runs = list(FetchRun.objects.order_by("pk").values_list("source", "status", "params"))
    assert runs == [
        (Source.HF, "succeeded", {"date": "2024-08-02"}),
        (Source.HF, "failed", {"date": "2024-08-01"}),
        (Source.HF_HTML, "succeeded", {"date": "2024-08-01"}),
    ]
    assert run_ids == list(
        FetchRun.objects.filter(status="succeeded").order_by("pk").values_list("pk", flat=True)
    )
    assert Paper.objects.count() == fixture_bytes(HF_HTML).count(b"<article") == 13


@override_settings(PAPERBOY_ARXIV_CATEGORIES=["cs.AI", "cs.CL"])
def test_fetch_arxiv_today_reads_the_feed_of_the_configured_categories() -> None:
    with responses.RequestsMock() as mock:
        mock.get("https://rss.arxiv.org/rss/cs.AI+cs.CL", body=fixture_bytes(RSS_ATOM))
        run_id = tasks.fetch_arxiv_today.delay().get()

    run = FetchRun.objects.get(pk=run_id)
    assert (run.source, run.status, run.created) == (
        Source.ARXIV_RSS,
        FetchRun.Status.SUCCEEDED,
        86,
    )


def test_fetch_papers_by_id_fetches_those_papers_from_the_api() -> None:
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, body=fixture_bytes(ARXIV_TWO_IDS))
        tasks.fetch_papers_by_id.delay(["0808.05394", "1707.08567"]).get()
        assert sent_params(mock.calls[0])["id_list"] == "0808.05394,1707.08567"

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
def test_when_api_and_pages_are_down_it_is_retried_until_max_retries(
    failure: dict, retrying_eagerly: None
) -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, **failure)
        mock.get(ANY_HTML_DAY, **failure)
        result = tasks.fetch_hf_today.apply()
        calls = len(mock.calls)

    assert result.state == "FAILURE"
    assert isinstance(result.result, TransientFetchError)

    max_retries = tasks.fetch_hf_today.max_retries
    assert max_retries is not None
    attempts = 1 + max_retries
    # Each attempt: two days, each tried on the API and then on its page; the repeated failures
    # of a source are counted on its one failed run.
    failed = FetchRun.objects.filter(status=FetchRun.Status.FAILED)
    assert sorted(failed.values_list("source", "failures")) == [
        (Source.HF, attempts * 2),
        (Source.HF_HTML, attempts * 2),
    ]
    assert FetchRun.objects.exclude(status=FetchRun.Status.FAILED).count() == 0
    # A timeout is raised by the stub before urllib3 can retry it;
    # status codes are retried by the client too.
    assert calls == attempts * 2 * 2 * (1 if "status" not in failure else HTTP_ATTEMPTS)


def test_a_transient_failure_of_one_day_still_fetches_the_other_then_recovers_on_retry(
    time_machine, retrying_eagerly: None
) -> None:
    time_machine.move_to(dt.datetime(2025, 11, 20, 12, 5, tzinfo=dt.UTC))
    with responses.RequestsMock() as mock:
        # Today: the API and the page are down for the first attempt;
        # the API is back for the second.
        for _ in range(HTTP_ATTEMPTS):
            mock.get(hf_api.API_URL, status=503, match=on_day("2025-11-20"))
        mock.get(hf_api.API_URL, body=fixture_bytes(HF_DAY), match=on_day("2025-11-20"))
        mock.get(f"{hf_html.PAPERS_URL}/date/2025-11-20", status=503)
        mock.get(hf_api.API_URL, json=hf_items()[:4], match=on_day("2025-11-19"))
        run_ids = tasks.fetch_hf_today.apply().get()

    runs = list(
        FetchRun.objects.order_by("pk").values_list("source", "status", "params", "created")
    )
    assert runs == [
        # First attempt: today fails on both; yesterday is still fetched.
        (Source.HF, "failed", {"date": "2025-11-20"}, 0),
        (Source.HF_HTML, "failed", {"date": "2025-11-20"}, 0),
        (Source.HF, "succeeded", {"date": "2025-11-19"}, 4),
        # The retry: both days again.
        (Source.HF, "succeeded", {"date": "2025-11-20"}, 8),
        (Source.HF, "succeeded", {"date": "2025-11-19"}, 0),
    ]
    assert run_ids == list(FetchRun.objects.order_by("pk").values_list("pk", flat=True))[-2:]
    assert Paper.objects.count() == len(hf_items()) == 12


def test_a_permanent_failure_of_one_day_does_not_stop_the_other_and_is_not_retried(
    time_machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    retried = []
    monkeypatch.setattr(tasks.fetch_hf_today, "retry", lambda *a, **k: retried.append(k))
    time_machine.move_to(dt.datetime(2025, 11, 21, 12, 5, tzinfo=dt.UTC))
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=b'[{"paper": {"id": "2511.1', match=on_day("2025-11-21"))
        mock.get(f"{hf_html.PAPERS_URL}/date/2025-11-21", body=b"<html><body>cut sh")
        mock.get(hf_api.API_URL, body=fixture_bytes(HF_DAY), match=on_day("2025-11-20"))
        run_ids = tasks.fetch_hf_today.delay().get()
        # The malformed answer was asked for once: only transient trouble is retried.
        assert len(mock.calls) == 3

    today, yesterday = (FetchRun.objects.get(pk=pk) for pk in run_ids)
    assert (today.source, today.status) == (Source.HF_HTML, FetchRun.Status.FAILED)
    assert "no papers found in HTML" in today.error
    assert (
        "invalid JSON"
        in FetchRun.objects.get(source=Source.HF, params={"date": "2025-11-21"}).error
    )
    assert (yesterday.status, yesterday.created) == (FetchRun.Status.SUCCEEDED, 12)
    assert retried == []
    assert FetchRun.objects.count() == 3
