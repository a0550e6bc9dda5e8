"""Offline, a fetch fails quietly: one warning line per source and kind of failure, no traceback
for network trouble, and repeated failures of a source counted on one FetchRun.

The network is "down" the way it is on a machine without one: every name lookup fails.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import socket

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client
from urllib3.util.retry import Retry

from papers import tasks
from papers.models import FetchRun, Source
from papers.services import fetch_run_execute, papers_fetch_hf
from papers.sources import hf_api
from papers.sources.http import TransientFetchError
from papers.sources.records import ParseError, ParseResult
from tests.helpers import fixture_bytes

pytestmark = pytest.mark.django_db

HF_DAY = "hf_daily_papers/DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json"
DAY = dt.date(2025, 11, 20)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(host: str, *args: object, **kwargs: object) -> list:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Retry, "get_backoff_time", lambda self: 0)


def lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """The messages logged at this level or above, run ids as #N (PostgreSQL's ids go on)."""
    return [
        re.sub(r"#\d+", "#N", record.getMessage())
        for record in caplog.records
        if record.levelno >= level
    ]


def test_offline_the_hourly_fetch_logs_one_line_per_source_and_no_traceback(
    offline: None, retrying_eagerly: None, caplog: pytest.LogCaptureFixture, time_machine
) -> None:
    time_machine.move_to(dt.datetime(2026, 11, 30, 12, 5, tzinfo=dt.UTC))
    with caplog.at_level(logging.INFO):
        result = tasks.fetch_hf_today.apply()

    assert result.state == "FAILURE"
    assert lines(caplog, logging.WARNING) == [
        "fetch run #N (hf) failed, unreachable: "
        "https://huggingface.co/api/daily_papers: cannot connect (DNS lookup failed)",
        "fetch run #N (hf-html) failed, unreachable: "
        "https://huggingface.co/papers/date/2026-11-30: cannot connect (DNS lookup failed)",
    ]
    # Celery gives up as on an expected error: one INFO line, no ERROR, no traceback.
    assert all(record.exc_info is None for record in caplog.records)
    celery = [r for r in caplog.records if r.name == "celery.app.trace"]
    assert [r.levelname for r in celery] == ["INFO"] * (tasks.fetch_hf_today.max_retries or 0) + [
        "INFO"
    ]
    assert "raised expected" in celery[-1].getMessage()
    # 6 attempts x 2 days x (API, page) = 24 failures, on 2 runs.
    runs = FetchRun.objects.order_by("pk")
    assert [(run.source, run.status, run.failures, run.failure_kind) for run in runs] == [
        (Source.HF, "failed", 12, "unreachable"),
        (Source.HF_HTML, "failed", 12, "unreachable"),
    ]
    last = runs[1]
    assert last.params == {"date": "2026-11-29"}  # the last attempt's
    assert last.finished_at is not None
    assert last.finished_at > last.started_at  # from the first failure to the last


def test_the_tasks_wait_minutes_between_retries_and_expect_transient_failures() -> None:
    for task in (tasks.fetch_hf_today, tasks.fetch_arxiv_today, tasks.fetch_papers_by_id):
        assert getattr(task, "retry_backoff") == 60  # noqa: B009  (not declared on Task)
        assert getattr(task, "retry_backoff_max") == 600  # noqa: B009
        assert task.throws == (TransientFetchError,)


@responses.activate
def test_a_success_closes_the_failure_streak_and_the_next_failure_opens_a_new_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    responses.get(hf_api.API_URL, status=503)
    responses.get(hf_api.API_URL, status=503)
    responses.get(hf_api.API_URL, status=503)
    with caplog.at_level(logging.DEBUG, logger="papers"):
        for _ in range(2):
            with pytest.raises(TransientFetchError):
                papers_fetch_hf(date=DAY)
    warned = lines(caplog, logging.WARNING)
    responses.replace(responses.GET, hf_api.API_URL, body=fixture_bytes(HF_DAY))
    papers_fetch_hf(date=DAY)
    responses.replace(responses.GET, hf_api.API_URL, status=503)
    with pytest.raises(TransientFetchError):
        papers_fetch_hf(date=DAY)

    runs = FetchRun.objects.order_by("pk")
    assert [(run.status, run.failures, run.failure_kind) for run in runs] == [
        ("failed", 2, "HTTP 503"),
        ("succeeded", 0, ""),
        ("failed", 1, "HTTP 503"),
    ]
    assert len(warned) == 1  # the repeat was a debug line
    assert "failed again, HTTP 503 (2 times)" in caplog.text


@responses.activate
def test_another_kind_of_failure_gets_a_run_and_a_warning_of_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    responses.get(hf_api.API_URL, status=503)
    responses.get(hf_api.API_URL, status=503)
    responses.get(hf_api.API_URL, status=503)
    with pytest.raises(TransientFetchError):
        papers_fetch_hf(date=DAY)
    caplog.clear()
    responses.replace(responses.GET, hf_api.API_URL, body=b'[{"paper": {"id": "25')
    with caplog.at_level(logging.WARNING):
        papers_fetch_hf(date=DAY)
        papers_fetch_hf(date=DAY)

    runs = FetchRun.objects.order_by("pk")
    assert [(run.failures, run.failure_kind) for run in runs] == [
        (1, "HTTP 503"),
        (2, "unparsable"),
    ]
    assert len(lines(caplog, logging.WARNING)) == 1
    assert "failed, unparsable: " in caplog.text


def test_a_crash_keeps_its_traceback_and_its_own_run(caplog: pytest.LogCaptureFixture) -> None:
    def parse(raw: bytes) -> ParseResult:
        raise KeyError("a bug")

    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            with pytest.raises(KeyError):
                fetch_run_execute(source=Source.FILE, params={}, fetch=lambda: [b"x"], parse=parse)

    assert [(run.failures, run.failure_kind) for run in FetchRun.objects.all()] == [
        (1, "crash"),
        (1, "crash"),
    ]
    crashes = [r for r in caplog.records if r.getMessage().endswith("crashed")]
    assert len(crashes) == 2
    assert all(record.exc_info for record in crashes)


def test_a_failure_of_another_source_does_not_join_the_streak() -> None:
    def unparsable(raw: bytes) -> ParseResult:
        raise ParseError("no papers found")

    for source in (Source.FILE, Source.ARXIV, Source.FILE):
        fetch_run_execute(source=source, params={}, fetch=lambda: [b"x"], parse=unparsable)

    assert [(run.source, run.failures) for run in FetchRun.objects.order_by("pk")] == [
        (Source.FILE, 2),
        (Source.ARXIV, 1),
    ]


def test_the_admin_lists_the_count_and_last_error_of_each_run(client: Client) -> None:
    admin = get_user_model().objects.create_superuser("admin", "admin@localhost", "pw")
    FetchRun.objects.create(
        source=Source.HF,
        status=FetchRun.Status.FAILED,
        failures=7,
        failure_kind="unreachable",
        error="https://huggingface.co/api/daily_papers: cannot connect (DNS lookup failed)",
    )
    client.force_login(admin)

    html = client.get("/admin/papers/fetchrun/").content.decode()

    assert "7 × unreachable" in html
    assert "Last error" in html
    assert "cannot connect (DNS lookup failed)" in html
