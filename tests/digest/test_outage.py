"""Provider outages, failing then recovering: all delivered once, nothing marked sent early."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import responses
import time_machine
from django.core import mail
from urllib3.util.retry import Retry

from digest import ledger, sending, services, tasks, transport, vectors
from digest.models import Delivery
from papers.models import FetchRun, Paper
from papers.services import papers_fetch_hf
from papers.sources import hf_api
from papers.sources.http import TransientFetchError
from tests.backends import RecordingBackend, recorded
from tests.factories import papers_create, reader_create
from tests.fakes import fake_embed

pytestmark = pytest.mark.django_db
TUESDAY_8AM = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def recording(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, retrying_eagerly: None
) -> Path:
    """The recording provider, eager Celery whose retries run in place, and the model's stand-in."""
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)
    settings.EMAIL_BACKEND = "tests.backends.RecordingBackend"
    monkeypatch.setenv("RECORDING_EMAIL_FILE", str(tmp_path / "sent.tsv"))
    return tmp_path / "sent.tsv"


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float]]:
    """The retry delays the tasks asked for (attempt, seconds), while retrying at once."""
    asked: list[tuple[int, float]] = []
    real = tasks.retry_delay

    def delay(attempt: int) -> float:
        asked.append((attempt, real(attempt)))
        return 0

    monkeypatch.setattr(tasks, "retry_delay", delay)
    return asked


def _issue_with_due_readers(count: int) -> Any:
    papers_create()
    readers = [reader_create() for _ in range(count)]
    with time_machine.travel(TUESDAY_8AM, tick=False):
        issue = services.issue_build(date=TUESDAY_8AM.date())
        ledger.deliveries_create_due(now=TUESDAY_8AM)
    return issue, readers


@pytest.mark.parametrize("failures", ["503,503,503", "timeout,connection", "429,503,timeout,429"])
def test_an_outage_then_recovery_delivers_everything_once_after_backing_off(
    failures: str, monkeypatch: pytest.MonkeyPatch, delays: list[tuple[int, float]], recording: Path
) -> None:
    monkeypatch.setenv("RECORDING_EMAIL_FAILURES", failures)
    issue, readers = _issue_with_due_readers(12)
    seen_sent_during_outage: list[int] = []
    real_send = transport.digests_send

    def watched(**kwargs: Any) -> Any:
        seen_sent_during_outage.append(Delivery.objects.filter(status="sent").count())
        return real_send(**kwargs)

    monkeypatch.setattr(transport, "digests_send", watched)
    tasks.send_batch.delay(issue.pk)
    keys, addresses = recorded(recording)
    assert sorted(addresses) == sorted(r.email for r in readers)
    assert set(addresses.values()) == {1}
    assert set(keys.values()) == {1}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    # While the provider failed, nothing was marked sent.
    attempts = len(failures.split(",")) + 1
    assert seen_sent_during_outage == [0] * attempts
    # One retry per failure, each allowed to wait longer than the last (exponential, with jitter).
    assert [attempt for attempt, _ in delays] == list(range(1, attempts))
    assert all(
        0 <= seconds <= min(tasks.RETRY_CAP_SECONDS, tasks.RETRY_BASE_SECONDS * 2**a)
        for a, seconds in delays
    )
    assert Delivery.objects.filter(attempts=attempts).count() == 12


def test_retry_delays_grow_exponentially_with_full_jitter_and_a_cap() -> None:
    for attempt in range(1, 10):
        bound = min(tasks.RETRY_CAP_SECONDS, tasks.RETRY_BASE_SECONDS * 2**attempt)
        samples = [tasks.retry_delay(attempt) for _ in range(200)]
        assert all(0 <= s <= bound for s in samples)
        assert max(samples) > bound / 2  # jitter spreads over the whole range, not a fixed delay
    # Within the claim timeout: a retry is never taken for a crash.
    assert tasks.RETRY_CAP_SECONDS < 15 * 60


def test_an_outage_longer_than_the_retries_fails_the_batch_and_marks_nothing_sent(
    monkeypatch: pytest.MonkeyPatch, delays: list[tuple[int, float]], recording: Path
) -> None:
    monkeypatch.setenv("RECORDING_EMAIL_FAILURES", ",".join(["503"] * 10))
    issue, _ = _issue_with_due_readers(3)
    tasks.send_batch.delay(issue.pk)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}
    assert all(
        "gave up after 5 attempts" in e for e in Delivery.objects.values_list("error", flat=True)
    )
    keys, _ = recorded(recording)
    assert not keys
    assert mail.outbox == []


def test_a_permanent_refusal_of_one_reader_fails_that_delivery_alone(
    monkeypatch: pytest.MonkeyPatch, recording: Path
) -> None:
    issue, readers = _issue_with_due_readers(5)
    monkeypatch.setenv("RECORDING_EMAIL_REJECT", readers[2].email)
    tasks.send_batch.delay(issue.pk)
    refused = Delivery.objects.get(subscriber=readers[2])
    assert refused.status == "failed"
    assert "rejected" in refused.error
    assert Delivery.objects.filter(status="sent").count() == 4
    _, addresses = recorded(recording)
    assert readers[2].email not in addresses
    assert len(addresses) == 4
    issue.refresh_from_db()
    assert issue.paused_at is None  # one refusal is not an outage


@pytest.mark.parametrize("status", [500, 429])
def test_a_source_outage_makes_a_quiet_issue_that_says_so_instead_of_a_silent_stale_one(
    status: int, monkeypatch: pytest.MonkeyPatch, recording: Path
) -> None:
    monkeypatch.setattr(Retry, "get_backoff_time", lambda self: 0)
    older = papers_create(6, day=TUESDAY_8AM.date() - dt.timedelta(days=3), prefix="2611.3")
    reader = reader_create(digest_size=3)
    before = set(Paper.objects.values_list("arxiv_id", "updated_at"))
    # Yesterday's list never arrives: Hugging Face answers with errors all day.
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, status=status, body="upstream trouble")
        with pytest.raises(TransientFetchError):
            papers_fetch_hf(date=TUESDAY_8AM.date() - dt.timedelta(days=1))
    run = FetchRun.objects.get()
    assert run.status == FetchRun.Status.FAILED
    assert str(status) in run.error
    assert set(Paper.objects.values_list("arxiv_id", "updated_at")) == before
    with time_machine.travel(TUESDAY_8AM, tick=False):
        issue = services.issue_build(date=TUESDAY_8AM.date())
        ledger.deliveries_create_due(now=TUESDAY_8AM)
    assert issue.quiet
    assert issue.new_papers == 0
    tasks.send_batch.delay(issue.pk)
    (message,) = [m for m in _sent_messages(recording, reader.email)]
    assert "A quiet day: no new papers came out" in message["text"]
    assert "came out earlier in the week" in message["text"]
    assert set(Delivery.objects.get(subscriber=reader).papers) <= {p.arxiv_id for p in older}


def _sent_messages(path: Path, address: str) -> list[dict[str, str]]:
    """The merge data the provider got for an address (the recording backend keeps keys only)."""
    return [
        data
        for message in _provider_messages
        for email, data in (getattr(message, "merge_data", None) or {}).items()
        if email == address
    ]


_provider_messages: list[Any] = []


@pytest.fixture(autouse=True)
def _capture_provider_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    _provider_messages.clear()
    real = RecordingBackend.post_to_esp

    def post(self: Any, payload: Any, message: Any) -> Any:
        response = real(self, payload, message)
        _provider_messages.append(message)
        return response

    monkeypatch.setattr(RecordingBackend, "post_to_esp", post)
