"""Exactly once under crashes: real Celery workers on Redis and PostgreSQL, SIGKILLed mid-send.

Every due reader must end with exactly one digest as counted by tests.backends.RecordingBackend,
which records each message durably under its idempotency key (as a provider with idempotency
keys would deliver it) and also counts raw sends: the duplicates a provider without keys would
deliver are reported as a figure (test-artifacts/crash.json), not hidden.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from digest import ledger, selectors, sending, services, vectors
from digest.models import Delivery, Issue
from subscriptions.models import Subscriber
from tests.backends import recorded
from tests.factories import papers_create
from tests.fakes import fake_embed
from tests.helpers import process_group_kill, send_batch_publish

# slow: it starts real worker processes and kills them; `make test-fast` leaves it out.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
READERS = 2_000
BATCH = 25
FIGURES: dict[str, Any] = {}


@pytest.fixture
def issue(monkeypatch: pytest.MonkeyPatch) -> Issue:
    """An issue with candidates and stored vectors, and READERS active readers due for it."""
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)
    papers_create(30, day=dt.date.today() - dt.timedelta(days=1))
    built = services.issue_build(date=dt.date.today(), rebuild=True)
    topics = [
        "pose estimation",
        "speech recognition and robots",
        "",
        "protein folding, diffusion video",
    ]
    Subscriber.objects.bulk_create(
        Subscriber(
            email=f"crash{i}@example.org",
            interests=topics[i % 4],
            status=Subscriber.Status.ACTIVE,
            confirmed_at=dt.datetime.now(dt.UTC),
        )
        for i in range(READERS)
    )
    # The workers read these vectors from the table instead of loading the model.
    vectors.papers_vectors(papers=selectors.issue_papers(issue=built)[1])
    vectors.interests_texts_store(interests=topics)
    return built


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return tmp_path / "sent.tsv"


@pytest.fixture
def queue() -> str:
    """A send queue of this test's own, so that nothing left in Redis by another run reaches it."""
    return f"send-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def worker_env(recording: Path, queue: str) -> dict[str, str]:
    """A production process's environment: the tests' database, mail to the recording backend."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": settings.SECRET_KEY,  # the idempotency keys are keyed with it
        "DEBUG": "false",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "EMAIL_BACKEND": "tests.backends.RecordingBackend",
        "EMAIL_PROVIDER": "",
        "RECORDING_EMAIL_FILE": str(recording),
        "RECORDING_EMAIL_DELAY": "0.05",
        "PAPERBOY_SEND_BATCH_SIZE": str(BATCH),
        "PAPERBOY_EMBED_ON_CHANGE": "false",
        "CELERY_VISIBILITY_TIMEOUT": "5",  # a dead worker's unacknowledged tasks come back quickly
        "LOG_LEVEL": "WARNING",
        "PAPERBOY_SEND_QUEUE": queue,
    }
    if db.get("PASSWORD"):
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(
            f"{db['USER']}@", f"{db['USER']}:{db['PASSWORD']}@"
        )
    return env


@pytest.fixture
def workers(
    worker_env: dict[str, str], queue: str
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start Celery workers on the test's queue; every one is killed at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "-n",
            f"{name}@%h",
        ]
        command += [
            "--concurrency",
            "2",
            "--pool",
            "prefork",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ]
        process = subprocess.Popen(command, cwd=ROOT, env=worker_env, start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        process_group_kill(process)


def _deliveries_count(issue: Issue, *statuses: str) -> int:
    return Delivery.objects.filter(issue=issue, status__in=statuses).count()


def _wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def _assert_exactly_once(issue: Issue, recording: Path, scenario: str) -> None:
    keys, addresses = recorded(recording)
    readers = dict(Subscriber.objects.values_list("pk", "email"))
    expected = {
        sending.idempotency_key(issue_id=issue.pk, subscriber_id=pk): email
        for pk, email in readers.items()
    }
    missing = set(expected) - set(keys)
    unexpected = set(keys) - set(expected)
    assert not missing, f"{len(missing)} readers never got their digest"
    assert not unexpected, f"{len(unexpected)} digests under keys that are no reader's"
    assert set(addresses) == set(readers.values())
    # The ledger agrees: every row sent, and nothing marked sent that the provider did not get.
    assert _deliveries_count(issue, "sent") == READERS
    assert Delivery.objects.filter(issue=issue).count() == READERS
    raw = sum(keys.values())
    FIGURES[scenario] = {
        "readers": READERS,
        "delivered_with_idempotency_keys": len(keys),
        "raw_sends": raw,
        "duplicates_without_idempotency_keys": raw - len(keys),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "crash.json").write_text(json.dumps(FIGURES, indent=2))
    print(f"\n{scenario}: {FIGURES[scenario]}")


def test_a_worker_killed_mid_send_loses_nobody_and_mails_nobody_twice(
    issue: Issue, workers: Any, recording: Path, queue: str
) -> None:
    ledger.deliveries_create_all(issue=issue, now=timezone.now())
    send_batch_publish(issue, queue, math.ceil(READERS / BATCH))
    first = workers("doomed")
    _wait_until(
        lambda: _deliveries_count(issue, "sent") >= READERS // 4,
        timeout=120,
        what="a quarter of the digests to go out",
    )
    # SIGKILL, mid-send: claimed rows stay "sending", its unacknowledged tasks go back to Redis.
    process_group_kill(first)
    in_flight = _deliveries_count(issue, "sending")
    assert _deliveries_count(issue, "sent") < READERS, (
        "the worker finished before it could be killed"
    )
    # The next tick, once the claim timeout has passed, puts the dead worker's claims back in the
    # queue.
    later = timezone.now() + dt.timedelta(minutes=settings.PAPERBOY_CLAIM_TIMEOUT_MINUTES + 1)
    requeued, failed = ledger.deliveries_recover_stuck(now=later)
    assert (requeued, failed) == (in_flight, 0)
    workers("survivor")
    send_batch_publish(issue, queue, math.ceil(_deliveries_count(issue, "queued") / BATCH))
    _wait_until(
        lambda: _deliveries_count(issue, "sent") == READERS,
        timeout=180,
        what="every digest to go out",
    )
    _assert_exactly_once(issue, recording, "worker killed mid-send")


def test_two_workers_racing_on_one_issue_send_each_digest_once(
    issue: Issue, workers: Any, recording: Path, queue: str
) -> None:
    ledger.deliveries_create_all(issue=issue, now=timezone.now())
    # Twice the tasks needed, on two workers at once: each batch is claimed by one of them only.
    send_batch_publish(issue, queue, 2 * math.ceil(READERS / BATCH))
    workers("left")
    workers("right")
    _wait_until(
        lambda: _deliveries_count(issue, "sent") == READERS,
        timeout=180,
        what="every digest to go out",
    )
    _assert_exactly_once(issue, recording, "two workers racing")
    keys, _ = recorded(recording)
    assert sum(keys.values()) == READERS  # no crash, so not even a raw duplicate


def test_the_beat_tick_fired_twice_sends_each_digest_once(
    issue: Issue, workers: Any, recording: Path, worker_env: dict[str, str]
) -> None:
    Subscriber.objects.update(delivery_hour=0)  # everyone's hour has come
    worker = workers("ticked")
    now = timezone.now().isoformat()
    # Two ticks at the same moment, as two beats (or a beat and an operator) would fire them.
    ticks = [
        subprocess.Popen(
            [sys.executable, "manage.py", "send_due", "--now", now, "--enqueue"],
            cwd=ROOT,
            env=worker_env,
            stdout=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [tick.communicate(timeout=120)[0].decode() for tick in ticks]
    assert all(tick.returncode == 0 for tick in ticks), outputs
    assert Delivery.objects.filter(issue=issue).count() == READERS
    _wait_until(
        lambda: _deliveries_count(issue, "sent") == READERS,
        timeout=180,
        what="every digest to go out",
    )
    _assert_exactly_once(issue, recording, "beat tick fired twice")
    keys, _ = recorded(recording)
    assert sum(keys.values()) == READERS
    assert worker.poll() is None
