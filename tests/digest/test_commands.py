"""build_issue, send_due, send_issue: each step of the tick by hand, one clear line on bad input."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from digest import sending, vectors
from digest.models import Delivery, Issue
from subscriptions.models import Subscriber
from tests.factories import papers_create, reader_create
from tests.fakes import fake_embed
from tests.helpers import DAY

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cache_and_a_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)


def _command_output(*argv: str) -> str:
    out = StringIO()
    call_command(*argv, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_build_issue_builds_once_and_says_what_it_built() -> None:
    papers_create(12)
    out = _command_output("build_issue", "--date", str(DAY))
    issue = Issue.objects.get()
    assert f"Daily issue of {DAY}" in out
    assert "12 candidates, 12 new" in out
    assert "scheduled" in out
    assert (
        _command_output("build_issue", "--date", str(DAY)) == out
    )  # the same issue, not a second one
    assert Issue.objects.count() == 1
    assert Issue.objects.get().pk == issue.pk


def test_build_issue_says_in_one_line_that_an_empty_window_has_nothing_to_build() -> None:
    with pytest.raises(CommandError) as raised:
        _command_output("build_issue", "--date", str(DAY), "--kind", "weekly")

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("nothing to build: no papers between 2026-11-17 00:00 and 2026-11-24")
    assert message.endswith(f"so there is no weekly issue of {DAY}")
    assert not Issue.objects.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--date", "2025-02-30"], "--date must be YYYY-MM-DD"),
        (["--date", "1999-01-01"], "--date must be between"),
        (["--kind", "monthly"], "--kind must be one of daily, weekly"),
    ],
)
def test_build_issue_refuses_bad_arguments_with_one_line_and_builds_nothing(
    argv: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        _command_output("build_issue", *argv)
    assert not Issue.objects.exists()


def test_send_due_sends_to_the_readers_whose_hour_has_come() -> None:
    papers_create()
    due = reader_create(delivery_hour=8)
    reader_create(delivery_hour=10)
    out = _command_output("send_due", "--now", f"{DAY}T08:30")
    assert "due now: 1" in out
    assert "sent: 1, failed: 0" in out
    assert [m.to[0] for m in mail.outbox] == [due.email]
    assert "due now: 0" in _command_output("send_due", "--now", f"{DAY}T08:45")
    assert len(mail.outbox) == 1


def test_send_issue_sends_now_to_every_reader_of_its_kind_and_refuses_a_draft() -> None:
    papers_create()
    readers = [reader_create(delivery_hour=h) for h in (3, 22)]
    reader_create(frequency=Subscriber.Frequency.WEEKLY)
    _command_output("build_issue", "--date", str(DAY))
    issue = Issue.objects.get()
    out = _command_output("send_issue", "--issue", str(issue.pk))
    assert "2 readers made due" in out
    assert "sent: 2" in out
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.email for r in readers)
    assert _command_output("send_issue", "--issue", str(issue.pk)).startswith(
        f"{issue}: 0 readers made due"
    )
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.DRAFT)
    with pytest.raises(CommandError, match="is a draft"):
        _command_output("send_issue", "--date", str(DAY))
    assert Delivery.objects.count() == 2


def test_send_issue_names_what_is_missing() -> None:
    with pytest.raises(CommandError, match="give either --issue ID or --date"):
        _command_output("send_issue")
    with pytest.raises(CommandError, match="there is no issue #42"):
        _command_output("send_issue", "--issue", "42")
    with pytest.raises(CommandError, match=f"there is no daily issue of {DAY}: build it first"):
        _command_output("send_issue", "--date", str(DAY), "--dry-run")


def test_the_dates_of_send_due_are_bounded() -> None:
    with pytest.raises(CommandError, match="--now must be between"):
        _command_output("send_due", "--now", "0001-01-01T00:30")
    assert not Issue.objects.exists()
