"""The email tasks retry what the provider or the network may fix, and nothing else."""

from __future__ import annotations

import smtplib

import pytest
from anymail.exceptions import AnymailAPIError, AnymailRequestsAPIError

from subscriptions import emails, services, tasks
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("status_code", "transient"),
    [(None, True), (429, True), (503, True), (400, False), (401, False)],
)
def test_only_network_trouble_429_and_5xx_are_retried(monkeypatch, status_code, transient) -> None:
    subscriber = SubscriberFactory.create()

    def failing(*, subscriber_id: int) -> None:
        assert subscriber_id == subscriber.pk
        raise AnymailRequestsAPIError("the provider said no", status_code=status_code)

    monkeypatch.setattr(services, "subscriber_signup_email_send", failing)
    expected = tasks.TransientSendError if transient else AnymailRequestsAPIError
    with pytest.raises(expected):
        tasks._send_or_raise_transient(services.subscriber_signup_email_send, subscriber.pk)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (smtplib.SMTPResponseException(421, b"try again later"), True),
        (smtplib.SMTPResponseException(550, b"no such mailbox"), False),
        (ConnectionRefusedError("the provider is down"), True),
        (AnymailAPIError("422: on the suppression list"), False),
    ],
)
def test_the_sign_up_emails_retry_what_the_digest_retries(monkeypatch, error, transient) -> None:
    subscriber = SubscriberFactory.create()

    def failing(*, subscriber_id: int) -> None:
        raise error

    monkeypatch.setattr(services, "subscriber_signup_email_send", failing)
    with pytest.raises(emails.TransientSendError if transient else type(error)):
        tasks._send_or_raise_transient(services.subscriber_signup_email_send, subscriber.pk)
    assert emails.send_error_is_transient(error) is transient


def test_nothing_is_mailed_to_a_subscriber_who_left_before_the_task_ran(mailoutbox) -> None:
    subscriber = SubscriberFactory.create(status="unsubscribed")

    assert tasks.subscriber_signup_email_send_task.delay(subscriber.pk).get() is None
    assert tasks.subscriber_signup_email_send_task.delay(subscriber.pk + 1000).get() is None
    assert mailoutbox == []
