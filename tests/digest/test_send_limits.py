"""Sending within the provider's limits: a rate per second, a cap per UTC day, for all workers."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from config.warmup import count_parse, warmup_parse
from digest import ledger, send_limits, sending, services, tasks, vectors
from digest.admin.issue import limits_lines
from digest.models import Delivery, Issue
from subscriptions.models import Subscriber
from tests.factories import papers_create, reader_create
from tests.fakes import fake_embed
from tests.helpers import BUILT, DAY, LOCAL_8AM_UTC, clean_env, run_python

NEXT_DAY_8AM = LOCAL_8AM_UTC + dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def _fresh_issue_context(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store(
    request: pytest.FixtureRequest, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The limits in memory, or in the real Redis under a key prefix of this test's own."""
    prefix = f"paperboy-test-{uuid.uuid4().hex}"
    monkeypatch.setattr(send_limits, "KEY_PREFIX", prefix)
    settings.REDIS_URL = os.environ["REDIS_URL"] if request.param == "redis" else ""
    yield request.param
    if request.param == "redis":
        connection = send_limits._limiter().storage.get_connection()  # type: ignore[attr-defined]
        if keys := connection.keys(f"{prefix}:*"):
            connection.delete(*keys)
    send_limits.limiters_clear()


def _issue_with_readers(*, email: int, feed: int = 0) -> Issue:
    papers_create()
    with time_machine.travel(BUILT, tick=False):
        issue = services.issue_build(date=DAY)
    for _ in range(email):
        reader_create()
    for _ in range(feed):
        reader_create(via=Subscriber.Via.FEED)
    ledger.deliveries_create_all(issue=issue, now=LOCAL_8AM_UTC)
    return issue


def _statuses(issue: Issue) -> dict[str, int]:
    rows = Delivery.objects.filter(issue=issue).values_list("status", flat=True)
    return {status: list(rows).count(status) for status in set(rows)}


# --- The rate ---------------------------------------------------------------------------------


def test_threads_sharing_the_rate_never_get_more_than_it_in_any_second(
    store: str, settings: Any
) -> None:
    settings.PAPERBOY_SEND_RATE = 20
    granted: list[tuple[float, int]] = []
    lock = threading.Lock()

    def sender() -> None:
        grant = send_limits.send_tokens_take(
            count=10, now=LOCAL_8AM_UTC, wait_until=time.monotonic() + 10
        )
        with lock:
            granted.append((time.time(), grant.count))

    started = time.time()
    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(count for _, count in granted) == 40
    # Two went at once, two waited for the window: a second (and its guard) later.
    assert time.time() - started >= 1 + send_limits.RATE_GUARD_SECONDS
    for at, _ in granted:
        assert sum(n for t, n in granted if at <= t < at + 1) <= 20


def test_a_batch_never_claims_more_than_the_rate(settings: Any) -> None:
    settings.PAPERBOY_SEND_RATE = 14
    assert send_limits.batch_size_fit(50) == 14
    assert send_limits.batch_size_fit(10) == 10
    settings.PAPERBOY_SEND_RATE = 0
    assert send_limits.batch_size_fit(50) == 50


@pytest.mark.django_db
def test_the_tick_queues_enough_batches_of_the_rates_size(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PAPERBOY_SEND_RATE = 2
    issue = _issue_with_readers(email=5)
    with django_capture_on_commit_callbacks() as callbacks:
        assert tasks.batches_enqueue(issue_ids=[issue.pk]) == 3
    assert len(callbacks) == 3


@pytest.mark.django_db
def test_a_turn_further_than_the_claim_may_wait_gives_the_rows_back_and_queues_a_new_batch(
    store: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PAPERBOY_SEND_RATE = 2
    monkeypatch.setattr(send_limits, "CLAIM_WAIT_SHARE", 0)
    issue = _issue_with_readers(email=4)
    first = sending.deliveries_send_batch(issue_id=issue.pk, batch_size=10, now=LOCAL_8AM_UTC)
    assert (first.claimed, first.sent, first.held) == (2, 2, 0)

    queued: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.send_batch, "apply_async", lambda **kw: queued.append(kw))
    summary = tasks.send_batch(issue.pk)
    assert (summary["held"], summary["sent"]) == (2, 0)
    assert len(mail.outbox) == 2
    [again] = queued
    assert again["args"] == (issue.pk,)
    assert 0.5 < again["countdown"] <= 1 + send_limits.RATE_GUARD_SECONDS
    # Back in the queue as if never claimed: no attempt spent, no claim held.
    held = Delivery.objects.filter(issue=issue, status=Delivery.Status.QUEUED)
    assert [(d.attempts, d.claim) for d in held] == [(0, None), (0, None)]


@pytest.mark.django_db
def test_an_unreachable_store_sends_nothing_and_gives_the_rows_back(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PAPERBOY_SEND_RATE = 5
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    monkeypatch.setattr(send_limits, "KEY_PREFIX", f"paperboy-test-{uuid.uuid4().hex}")
    issue = _issue_with_readers(email=2)
    result = sending.deliveries_send_batch(issue_id=issue.pk, now=LOCAL_8AM_UTC)
    send_limits.limiters_clear()
    assert (result.claimed, result.sent, result.held) == (2, 0, 2)
    assert result.wait == send_limits.STORAGE_RETRY_SECONDS
    assert mail.outbox == []
    assert _statuses(issue) == {"queued": 2}


# --- The day's cap ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_over_the_daily_cap_the_rest_stay_queued_untried_and_go_out_the_next_utc_day(
    store: str, settings: Any
) -> None:
    settings.PAPERBOY_SEND_DAILY_CAP = 3
    issue = _issue_with_readers(email=5, feed=1)
    first = sending.deliveries_send_batch(issue_id=issue.pk, batch_size=10, now=LOCAL_8AM_UTC)
    # The feed reader's digest reaches no provider: it neither waits nor counts.
    assert (first.claimed, first.sent, first.held, first.capped) == (6, 4, 2, True)
    assert len(mail.outbox) == 3
    assert send_limits.daily_sent(day=DAY) == 3
    assert _statuses(issue) == {"sent": 4, "queued": 2}
    queued = Delivery.objects.filter(issue=issue, status=Delivery.Status.QUEUED)
    assert {(d.attempts, d.claim) for d in queued} == {(0, None)}

    # Later the same day: nothing is even claimed, so nothing spins and no attempt is spent.
    later = sending.deliveries_send_batch(issue_id=issue.pk, now=LOCAL_8AM_UTC)
    assert (later.claimed, later.capped) == (0, True)
    assert len(mail.outbox) == 3
    # The open issue keeps its queued rows, so the tick does not close it and queues it again.
    assert services.tick_prepare(now=LOCAL_8AM_UTC).issue_ids_to_send == [issue.pk]
    assert ledger.issues_close(now=LOCAL_8AM_UTC + dt.timedelta(days=5)) == 0

    with time_machine.travel(NEXT_DAY_8AM, tick=True):
        next_day = sending.deliveries_send_batch(issue_id=issue.pk)
        # (Read while there: the day's count in memory expires two days after it began.)
        assert send_limits.daily_sent(day=NEXT_DAY_8AM.date()) == 2
    assert (next_day.claimed, next_day.sent, next_day.held) == (2, 2, 0)
    assert len(mail.outbox) == 5
    assert len({m.to[0] for m in mail.outbox}) == 5


@pytest.mark.django_db
def test_concurrent_takers_are_granted_exactly_what_the_day_has_left(
    store: str, settings: Any
) -> None:
    settings.PAPERBOY_SEND_DAILY_CAP = 25
    granted: list[int] = []

    def taker() -> None:
        grant = send_limits.send_tokens_take(
            count=10, now=LOCAL_8AM_UTC, wait_until=time.monotonic()
        )
        granted.append(grant.count)

    threads = [threading.Thread(target=taker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 25
    assert send_limits.daily_sent(day=DAY) == 25


def test_untaken_emails_give_their_days_tokens_back(store: str, settings: Any) -> None:
    settings.PAPERBOY_SEND_DAILY_CAP = 10
    assert send_limits.send_tokens_take(count=8, now=LOCAL_8AM_UTC, wait_until=0).count == 8
    send_limits.send_tokens_return(count=5, now=LOCAL_8AM_UTC)  # the provider failed them
    assert send_limits.daily_sent(day=DAY) == 3


# --- Warm-up and bad settings -------------------------------------------------------------------


def test_the_warm_up_caps_each_day_from_its_start_then_the_daily_cap(settings: Any) -> None:
    settings.PAPERBOY_SEND_WARMUP = " 2026-12-01: 1000, 2000,5000 "
    settings.PAPERBOY_SEND_DAILY_CAP = 0
    assert send_limits.daily_cap(day=dt.date(2026, 11, 20)) == 1000  # before: its first day's
    assert send_limits.daily_cap(day=dt.date(2026, 12, 1)) == 1000
    assert send_limits.daily_cap(day=dt.date(2026, 12, 3)) == 5000
    assert send_limits.daily_cap(day=dt.date(2026, 12, 4)) is None
    settings.PAPERBOY_SEND_DAILY_CAP = 50_000
    assert send_limits.daily_cap(day=dt.date(2026, 12, 4)) == 50_000


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("1000,2000", "not a start date and daily caps"),
        ("2026-12-01", "not a start date and daily caps"),
        ("2026-12-01:1000,,2000", "not a start date and daily caps"),
        ("2026-12-01:1000,-5", "not a start date and daily caps"),
        ("2026-13-01:1000", "2026-13-01 is not a date"),
        ("2026-12-01:1000,0,2000", "a day's cap of 0 would send nothing"),
    ],
)
def test_a_bad_warm_up_is_refused_with_what_to_write(raw: str, says: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=says) as refused:
        warmup_parse(raw)
    assert "PAPERBOY_SEND_WARMUP=2026-12-01:1000,2000,5000,10000" in str(refused.value)


def test_a_rate_or_cap_must_be_a_whole_number() -> None:
    assert count_parse("PAPERBOY_SEND_RATE", "") == 0
    assert count_parse("PAPERBOY_SEND_RATE", " 14 ") == 14
    for raw in ("-5", "2.5", "fast"):
        with pytest.raises(ImproperlyConfigured, match=f"PAPERBOY_SEND_RATE='{raw}'"):
            count_parse("PAPERBOY_SEND_RATE", raw)


def test_a_bad_warm_up_stops_start_up(tmp_path: Path) -> None:
    env = clean_env(tmp_path, DEBUG="true", PAPERBOY_SEND_WARMUP="tomorrow:1000")
    started = run_python("import django; django.setup()", env)
    assert started.returncode != 0
    assert "ImproperlyConfigured: PAPERBOY_SEND_WARMUP='tomorrow:1000'" in started.stderr


# --- What the admin shows ------------------------------------------------------------------------


def _lines(status: send_limits.LimitsStatus, queued: int = 0) -> list[str]:
    return [line for (line,) in limits_lines(status, queued)]


def test_the_admin_says_why_mail_waits() -> None:
    reached = send_limits.LimitsStatus(50, 50_000, 50_000)
    assert _lines(reached, queued=12_345) == [
        "Sending at most 50 messages per second.",
        "Daily sending cap reached: 50,000 of 50,000 today (UTC); "
        "12,345 queued go out after 00:00 UTC.",
    ]
    warming = send_limits.LimitsStatus(0, 2000, 150, warmup_day=(2, 4))
    assert _lines(warming) == [
        "No sending rate: batches go as fast as the provider takes them.",
        "Daily sending cap (warm-up day 2 of 4): 150 of 2,000 sent today (UTC).",
    ]
    unknown = send_limits.LimitsStatus(14, 1000, None)
    assert "cannot be reached" in _lines(unknown)[1]
    assert _lines(send_limits.LimitsStatus(14, None, None))[1] == "No daily sending cap."


@pytest.mark.django_db
def test_the_issue_page_shows_the_cap_reached_and_what_waits(
    store: str, settings: Any, admin_client: Client
) -> None:
    settings.PAPERBOY_SEND_DAILY_CAP = 2
    settings.PAPERBOY_SEND_RATE = 50
    issue = _issue_with_readers(email=5)
    with time_machine.travel(LOCAL_8AM_UTC, tick=True):
        sending.deliveries_send_batch(issue_id=issue.pk)
        page = admin_client.get(reverse("admin:digest_issue_change", args=[issue.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Sending at most 50 messages per second." in text
    assert "Daily sending cap reached: 2 of 2 today (UTC); 3 queued go out after 00:00 UTC." in text
