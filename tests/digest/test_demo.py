"""make demo: the demo readers get the latest day's daily and weekly digests, once; no one else."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from digest import demo, sending, vectors
from digest.models import Delivery, Issue, IssueKind, IssueStatus
from subscriptions.models import Subscriber
from tests.factories import papers_create, reader_create
from tests.fakes import fake_embed
from tests.helpers import DAY, email_parts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cache_and_a_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)


def _demo() -> str:
    out = StringIO()
    call_command("demo", stdout=out, stderr=StringIO())
    return out.getvalue()


@time_machine.travel(DAY, tick=False)
def test_it_sends_the_latest_days_daily_and_weekly_digests_to_the_demo_readers_only() -> None:
    papers_create(12)  # the day before DAY
    stranger = reader_create(email="someone@example.org")

    out = _demo()

    issues = {issue.kind: issue for issue in Issue.objects.all()}
    assert set(issues) == {IssueKind.DAILY, IssueKind.WEEKLY}
    assert {issue.date for issue in issues.values()} == {DAY}
    assert all(issue.status == IssueStatus.SENDING for issue in issues.values())
    by_reader = {message.to[0]: message for message in mail.outbox}
    assert set(by_reader) == {reader.email for reader in demo.DEMO_READERS}
    assert not Delivery.objects.filter(subscriber=stranger).exists()
    text, html = email_parts(by_reader["weekly-reader@demo.localhost"])
    assert "Weekly digest" in text
    assert "at scale, study" in text  # the day's papers
    assert "at scale, study" in html
    assert "sent: 2, failed: 0, skipped: 0" in out
    assert "daily-reader@demo.localhost (daily)" in out


@time_machine.travel(DAY, tick=False)
def test_running_it_again_sends_nothing_twice_and_says_so() -> None:
    papers_create(12)
    _demo()
    mail.outbox.clear()

    out = _demo()

    assert mail.outbox == []
    assert Issue.objects.count() == 2
    assert Subscriber.objects.filter(email__endswith="@demo.localhost").count() == 2
    assert "sent: 0" in out
    assert "already had these issues" in out


@time_machine.travel(DAY, tick=False)
def test_it_reactivates_a_demo_reader_who_unsubscribed_and_schedules_a_draft_issue(
    settings: Any,
) -> None:
    settings.PAPERBOY_ISSUE_REQUIRE_APPROVAL = True
    papers_create(12)
    reader_create(email="daily-reader@demo.localhost", status=Subscriber.Status.UNSUBSCRIBED)

    _demo()

    assert Subscriber.objects.get(email="daily-reader@demo.localhost").status == (
        Subscriber.Status.ACTIVE
    )
    assert len(mail.outbox) == 2


@time_machine.travel(DAY, tick=False)
def test_without_papers_it_says_to_load_the_sample_and_creates_nothing() -> None:
    with pytest.raises(CommandError, match="no papers are stored: load the sample first"):
        _demo()
    assert not Subscriber.objects.exists()
    assert not Issue.objects.exists()
