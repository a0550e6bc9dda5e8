"""Exactly once to team channels under crashes: real Celery workers, SIGKILLed mid-send.

The receiver is a real HTTPS server on this machine (a self-signed certificate the workers are
told to trust, its host allowed as an operator's internal endpoint would be) that records every
signed webhook it gets by its `webhook-id`, the digest's idempotency key. Every channel must end
with its digest received under its key, none under a key that is no channel's, and the ledger
must agree; the raw resends a receiver without idempotency would see are reported as a figure
(test-artifacts/crash_channels.json), not hidden.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import math
import os
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from digest import ledger, selectors, sending, services, vectors
from digest.channels.messages import webhook_signature
from digest.models import Channel, Delivery, Issue
from subscriptions.models import Subscriber
from tests.factories import papers_create
from tests.fakes import fake_embed
from tests.helpers import process_group_kill, send_batch_publish

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHANNELS = 300
BATCH = 10
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # base64 of 24 bytes
FIGURES: dict[str, Any] = {}


class _Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lock = threading.Lock()
        self.keys: Counter[str] = Counter()
        self.bad_signatures = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        key, stamp = self.headers.get("webhook-id", ""), self.headers.get("webhook-timestamp", "")
        expected = webhook_signature(
            secret=SECRET, msg_id=key, timestamp=int(stamp or 0), body=body
        )
        time.sleep(0.05)  # a receiver takes a moment: the kill lands mid-batch
        with self.server.lock:
            self.server.keys[key] += 1
            if self.headers.get("webhook-signature", "") != expected:
                self.server.bad_signatures += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost (the workers trust it as their CA bundle)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def receiver(certificate: tuple[Path, Path]) -> Iterator[_Receiver]:
    server = _Receiver(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def issue(monkeypatch: pytest.MonkeyPatch, receiver: _Receiver) -> Issue:
    """An issue with candidates and stored vectors, and CHANNELS signed-webhook channels due."""
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)
    papers_create(30, day=dt.date.today() - dt.timedelta(days=1))
    built = services.issue_build(date=dt.date.today(), rebuild=True)
    topics = ["pose estimation", "speech recognition and robots", "", "protein folding"]
    now = dt.datetime.now(dt.UTC)
    readers = Subscriber.objects.bulk_create(
        Subscriber(
            email="",
            via=Subscriber.Via.CHANNEL,
            interests=topics[i % 4],
            status=Subscriber.Status.ACTIVE,
            confirmed_at=now,
        )
        for i in range(CHANNELS)
    )
    port = receiver.server_address[1]
    Channel.objects.bulk_create(
        Channel(
            subscriber=reader,
            name=f"team {i}",
            kind=Channel.Kind.WEBHOOK,
            url=f"https://localhost:{port}/hooks/{i}",
            secret=SECRET,
        )
        for i, reader in enumerate(readers)
    )
    vectors.papers_vectors(papers=selectors.issue_papers(issue=built)[1])
    vectors.interests_texts_store(interests=topics)
    return built


@pytest.fixture
def queue() -> str:
    return f"send-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def worker_env(certificate: tuple[Path, Path], queue: str) -> dict[str, str]:
    """A production worker's environment; the receiver trusted as an internal endpoint."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "EMAIL_PROVIDER": "",
        "PAPERBOY_CHANNEL_INTERNAL_HOSTS": "localhost",
        "PAPERBOY_CHANNEL_CA_BUNDLE": str(certificate[0]),
        "PAPERBOY_SEND_BATCH_SIZE": str(BATCH),
        "PAPERBOY_EMBED_ON_CHANGE": "false",
        "CELERY_VISIBILITY_TIMEOUT": "5",
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
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue]
        command += ["-n", f"{name}@%h", "--concurrency", "2", "--pool", "prefork"]
        command += ["--without-gossip", "--without-mingle", "-l", "warning"]
        process = subprocess.Popen(command, cwd=ROOT, env=worker_env, start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        process_group_kill(process)


def _count(issue: Issue, *statuses: str) -> int:
    return Delivery.objects.filter(issue=issue, status__in=statuses).count()


def _wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def test_a_worker_killed_mid_send_to_channels_loses_none_and_posts_none_twice_by_key(
    issue: Issue, workers: Any, receiver: _Receiver, queue: str
) -> None:
    ledger.deliveries_create_all(issue=issue, now=timezone.now())
    assert Delivery.objects.filter(issue=issue).count() == CHANNELS
    send_batch_publish(issue, queue, math.ceil(CHANNELS / BATCH))
    first = workers("doomed")
    _wait_until(
        lambda: _count(issue, "sent") >= CHANNELS // 4,
        timeout=120,
        what="a quarter of the channels' digests to go out",
    )
    process_group_kill(first)
    in_flight = _count(issue, "sending")
    assert _count(issue, "sent") < CHANNELS, "the worker finished before it could be killed"
    later = timezone.now() + dt.timedelta(minutes=settings.PAPERBOY_CLAIM_TIMEOUT_MINUTES + 1)
    assert ledger.deliveries_recover_stuck(now=later) == (in_flight, 0)
    workers("survivor")
    send_batch_publish(issue, queue, math.ceil(_count(issue, "queued") / BATCH))
    _wait_until(
        lambda: _count(issue, "sent") == CHANNELS, timeout=180, what="every channel's digest"
    )

    expected = {
        sending.idempotency_key(issue_id=issue.pk, subscriber_id=pk)
        for pk in Channel.objects.values_list("subscriber_id", flat=True)
    }
    with receiver.lock:
        keys = Counter(receiver.keys)
        bad = receiver.bad_signatures
    missing, unexpected = expected - set(keys), set(keys) - expected
    assert not missing, f"{len(missing)} channels never got their digest"
    assert not unexpected, f"{len(unexpected)} posts under keys that are no channel's"
    assert bad == 0, f"{bad} posts with a wrong signature"
    assert set(Delivery.objects.filter(issue=issue).values_list("status", flat=True)) == {"sent"}
    raw = sum(keys.values())
    FIGURES["worker killed mid-send to channels"] = {
        "channels": CHANNELS,
        "received_by_idempotency_key": len(keys),
        "raw_posts": raw,
        "resends_a_receiver_without_idempotency_would_see": raw - len(keys),
        "in_flight_when_killed": in_flight,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "crash_channels.json").write_text(json.dumps(FIGURES, indent=2))
    print(f"\nchannels crash: {FIGURES['worker killed mid-send to channels']}")
