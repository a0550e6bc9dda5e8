"""Hypothesis fuzz of the digest's commands: build_issue, send_due, send_issue.

Whatever the arguments, a command succeeds or stops with one CommandError line, never another
exception; a CommandError changes nothing stored, and `send_issue --dry-run` never changes anything.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from digest import sending, vectors
from digest.models import Issue
from tests.factories import PaperFactory, SubscriberFactory
from tests.fakes import fake_embed
from tests.helpers_fuzz import FUZZ, anything, command_argv, command_run, stored_state

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 11, 20)
dates = st.one_of(
    st.sampled_from(
        [str(DAY), "2025-11-21", "1999-01-01", "2999-01-01", "2025-02-30", "20251120", "", " "]
    ),
    st.dates().map(str),
    anything,
)
kinds = st.one_of(st.sampled_from(["daily", "weekly", "Daily", "monthly", ""]), anything)


@pytest.fixture(autouse=True)
def _embedding_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model's stand-in, with the process's vector and issue-context caches emptied."""
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)


def _issue_with_papers_and_readers() -> Issue:
    """Papers for a day, one issue, two readers (made by the first example, reused after)."""
    if not Issue.objects.exists():
        PaperFactory.create_batch(4, hf_date=DAY - dt.timedelta(days=1))
        SubscriberFactory.create_batch(2)
        return Issue.objects.create(
            date=DAY,
            window_start=dt.datetime(2025, 11, 19, tzinfo=dt.UTC),
            window_end=dt.datetime(2025, 11, 20, tzinfo=dt.UTC),
            status=Issue.Status.DRAFT,
        )
    return Issue.objects.get(date=DAY)


@FUZZ
@given(data=st.data())
def test_build_issue_takes_any_arguments_and_a_failure_stores_nothing(data: Any) -> None:
    _issue_with_papers_and_readers()
    argv = data.draw(command_argv({"--date": dates, "--kind": kinds}, ["--rebuild", "--no-color"]))
    before = stored_state()
    succeeded, output = command_run("build_issue", argv)
    event("success" if succeeded else "CommandError")
    if not succeeded:
        assert stored_state() == before, argv
    else:
        assert "candidates" in output


@FUZZ
@given(data=st.data())
def test_send_issue_takes_any_arguments_and_a_dry_run_or_a_failure_changes_nothing(
    data: Any,
) -> None:
    issue = _issue_with_papers_and_readers()
    ids = st.one_of(
        st.sampled_from([str(issue.pk), "0", "-1", "99999999999999999999", "1e3", ""]), anything
    )
    argv = data.draw(
        command_argv(
            {"--issue": ids, "--date": dates, "--kind": kinds}, ["--dry-run", "--no-color"]
        )
    )
    before = stored_state()
    succeeded, output = command_run("send_issue", argv)
    event("success" if succeeded else "CommandError")
    if not succeeded or "--dry-run" in argv:
        assert stored_state() == before, (argv, output)


@FUZZ
@given(data=st.data())
def test_send_due_takes_any_arguments_without_crashing(data: Any) -> None:
    _issue_with_papers_and_readers()
    moments = st.one_of(
        st.sampled_from(
            ["2025-11-20T08:00", "2025-11-20T08:00+09:00", "2025-11-20", "yesterday", "", "T"]
        ),
        st.sampled_from(
            [
                "0001-01-01T00:30",
                "0001-01-01T00:30+14:00",
                "9999-12-31T23:00",
                "9999-12-31T23:59-12:00",
            ]
        ),
        st.datetimes().map(lambda moment: moment.isoformat()),
        anything,
    )
    argv = data.draw(command_argv({"--now": moments}, ["--enqueue", "--no-color"]))
    before = stored_state()
    succeeded, output = command_run("send_due", argv)
    event("success" if succeeded else "CommandError")
    if not succeeded:
        assert stored_state() == before, (argv, output)
    else:
        assert "due now" in output
