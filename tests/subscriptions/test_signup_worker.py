"""A sign-up is one message to the broker for the web process; the worker stores it and mails the link."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from kombu.exceptions import OperationalError

from subscriptions import tasks
from subscriptions.models import Subscriber
from tests.subscriptions.conftest import FORM

pytestmark = pytest.mark.django_db


def test_the_web_only_queues_the_sign_up_and_stores_nothing_itself(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_max_num_queries: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks.subscriber_subscribe, "delay", lambda *args: queued.append(args))
    with django_assert_max_num_queries(0):
        response = client.post("/subscribe/", FORM)
    assert response.status_code == 303
    assert not Subscriber.objects.exists()
    ((email, preferences),) = queued
    assert email == FORM["email"] and preferences["timezone"] == "Europe/Paris"
    # The worker's side of it: the row and the confirmation email.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.subscriber_subscribe(email, preferences)
    assert Subscriber.objects.get().status == Subscriber.Status.PENDING
    assert len(mail.outbox) == 1


def test_a_broker_that_is_down_makes_the_web_store_the_sign_up_instead_of_losing_it(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.subscriber_subscribe, "delay", down)
    response = client.post("/subscribe/", FORM)
    assert response.status_code == 303
    reader = Subscriber.objects.get()
    assert reader.email == FORM["email"] and reader.interests == FORM["interests"]
