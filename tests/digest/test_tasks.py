"""The worker: the hourly tick end to end, batch retries through Celery, embedding off the web."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMessage
from django.test import Client

from digest import embeddings, ledger, sending, services, tasks, vectors
from digest.models import Delivery, Issue, TextEmbedding
from digest.ranking import interests_facets
from papers.models import Paper
from papers.services import papers_load_file
from subscriptions.models import Subscriber
from subscriptions.services import Preferences, subscriber_update
from tests.factories import papers_create, reader_create
from tests.fakes import fake_embed
from tests.helpers import FIXTURES, FORM, provider_http_error

pytestmark = pytest.mark.django_db
TUESDAY_8AM = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _no_cache_fake_model_no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)
    monkeypatch.setattr(tasks, "retry_delay", lambda attempt: 0)


def test_the_hourly_tick_builds_the_issue_and_mails_each_reader_whose_hour_has_come(
    django_capture_on_commit_callbacks: Any,
) -> None:
    papers_create()
    due = reader_create(delivery_hour=8)
    reader_create(delivery_hour=20)
    with (
        time_machine.travel(TUESDAY_8AM, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        summary = tasks.tick()
    assert summary["due"] == 1
    assert summary["batches"] == 1
    assert [m.to[0] for m in mail.outbox] == [due.email]
    issue = Issue.objects.get()
    assert issue.date == TUESDAY_8AM.date()
    assert issue.status == Issue.Status.SENDING
    # The beat fires twice (a restart, a second beat): nobody gets a second copy.
    with (
        time_machine.travel(TUESDAY_8AM, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        again = tasks.tick()
    assert again["due"] == 0
    assert len(mail.outbox) == 1


@pytest.mark.usefixtures("retrying_eagerly")
def test_a_batch_task_retries_provider_trouble_then_sends_each_reader_once(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    papers_create()
    readers = [reader_create() for _ in range(3)]
    original, calls = EmailMessage.send, {"n": 0}

    def send(message: Any, fail_silently: bool = False) -> int:
        calls["n"] += 1
        if calls["n"] in (2, 3):  # the second message fails, and again on the first retry
            raise provider_http_error(503)
        return original(message, fail_silently)

    monkeypatch.setattr(EmailMessage, "send", send)
    with (
        time_machine.travel(TUESDAY_8AM, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.tick()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.email for r in readers)
    attempts = dict(Delivery.objects.values_list("subscriber__email", "attempts"))
    assert sorted(attempts.values()) == [1, 3, 3]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.usefixtures("retrying_eagerly")
def test_a_batch_out_of_retries_is_marked_failed_with_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    papers_create()
    reader_create()
    monkeypatch.setattr(
        EmailMessage,
        "send",
        lambda message, fail_silently=False: (_ for _ in ()).throw(provider_http_error(503)),
    )
    with time_machine.travel(TUESDAY_8AM, tick=False):
        issue = services.issue_build(date=TUESDAY_8AM.date())
        ledger.deliveries_create_due(now=TUESDAY_8AM)
        tasks.send_batch.delay(issue.pk)
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.attempts == 5
    assert "gave up after 5 attempts" in delivery.error
    assert "503" in delivery.error
    assert mail.outbox == []


def test_new_interests_are_embedded_by_the_worker_after_commit(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PAPERBOY_EMBED_ON_CHANGE = True
    reader = reader_create(interests="")
    preferences = Preferences(
        interests="speech recognition and robot grasping",
        categories=[],
        frequency=Subscriber.Frequency.DAILY,
        digest_size=5,
        delivery_hour=8,
        timezone="UTC",
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        subscriber_update(subscriber=reader, preferences=preferences)
    assert len(callbacks) == 1
    keys = {vectors.text_key(f) for f in interests_facets(preferences.interests)}
    assert len(keys) == 3
    assert set(TextEmbedding.objects.values_list("key", flat=True)) == keys


def test_an_ingest_has_its_papers_embedded(settings: Any) -> None:
    settings.PAPERBOY_EMBED_ON_CHANGE = True
    path = (
        FIXTURES
        / "hf_daily_papers"
        / "api_daily_papers_month-2025-09_sort-publishedAt_limit100_p5-lastpage.json"
    )
    papers_load_file(path=path)
    stored = set(TextEmbedding.objects.values_list("key", flat=True))
    expected = {vectors.text_key(embeddings.paper_text(p)) for p in Paper.objects.all()}
    assert len(expected) == 35
    assert stored == expected


def test_a_sign_up_asks_the_worker_for_the_embedding_and_the_web_never_loads_the_model(
    client: Client,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.PAPERBOY_EMBED_ON_CHANGE = True
    queued: list[str] = []
    monkeypatch.setattr(tasks.interests_embed, "delay", queued.append)
    monkeypatch.setattr(embeddings, "_model", None)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/subscribe/", FORM)
    assert response.status_code == 303
    assert queued == [FORM["interests"]]
    assert embeddings._model is None
