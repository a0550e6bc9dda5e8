"""The subscriptions tasks keep their registered names: messages queued before an upgrade run."""

from __future__ import annotations

import pytest
from celery import Task

from config.celery import app
from subscriptions import tasks


@pytest.mark.parametrize(
    ("task", "name"),
    [
        (tasks.subscriber_subscribe_task, "subscriptions.tasks.subscriber_subscribe"),
        (
            tasks.subscriber_signup_email_send_task,
            "subscriptions.tasks.subscriber_signup_email_send",
        ),
        (
            tasks.subscriber_email_change_send_task,
            "subscriptions.tasks.subscriber_email_change_send",
        ),
    ],
)
def test_a_renamed_task_still_answers_to_its_old_name(task: Task, name: str) -> None:
    assert task.name == name
    assert name in app.tasks
