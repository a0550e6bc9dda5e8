"""A sign-up is one broker message for the web process; the worker stores it and mails the link."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from kombu.exceptions import OperationalError

from subscriptions import tasks
from subscriptions.models import Subscriber
from tests.helpers import FORM

pytestmark = pytest.mark.django_db


def test_the_web_only_queues_the_sign_up_and_stores_nothing_itself(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_max_num_queries: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    queued: list[tuple[Any, ...]] = []
    sent_options: list[dict[str, Any]] = []

    def apply_async(args: tuple[Any, ...], **options: Any) -> None:
        queued.append(args)
        sent_options.append(options)

    monkeypatch.setattr(tasks.subscriber_subscribe_task, "apply_async", apply_async)
    with django_assert_max_num_queries(0):
        response = client.post("/subscribe/", FORM)
    assert response.status_code == 303
    assert not Subscriber.objects.exists()
    ((email, preferences),) = queued
    assert email == FORM["email"]
    assert preferences["timezone"] == "Europe/Paris"
    # The broker's headers, which monitoring tools show, never carry the address.
    assert email not in repr(sent_options)
    # The worker's side of it: the row and the confirmation email.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.subscriber_subscribe_task(email, preferences)
    assert Subscriber.objects.get().status == Subscriber.Status.PENDING
    assert len(mail.outbox) == 1


def test_a_broker_that_is_down_makes_the_web_store_the_sign_up_instead_of_losing_it(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any, **options: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.subscriber_subscribe_task, "apply_async", down)
    response = client.post("/subscribe/", FORM)
    assert response.status_code == 303
    reader = Subscriber.objects.get()
    assert reader.email == FORM["email"]
    assert reader.interests == FORM["interests"]
