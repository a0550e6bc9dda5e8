"""Building an issue: never one without papers (said once), and while another tick builds the same
one (two beats, or send_due by hand)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from django.db import connections

from digest import services
from digest.models import Issue, IssueKind
from tests.factories import papers_create

MONDAY = dt.date(2026, 11, 30)
EMPTY_MESSAGE = "issue not built: no candidate papers in its window"


@pytest.fixture
def fresh_empty_log(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test is a fresh process as far as "said once" goes.
    monkeypatch.setattr(services, "_EMPTY_LOGGED", set())


def _empty_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == EMPTY_MESSAGE]


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_empty_log")
def test_a_window_without_papers_builds_no_issue_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    papers_create(3, day=MONDAY - dt.timedelta(days=20))  # too old even for a quiet day's top-up

    with (
        caplog.at_level(logging.DEBUG, logger="digest.services"),
        pytest.raises(services.IssueEmptyError, match="nothing to build: no papers between"),
    ):
        services.issue_build(date=MONDAY, kind=IssueKind.DAILY)

    assert not Issue.objects.exists()
    [record] = _empty_records(caplog)
    assert record.levelno == logging.INFO
    assert (record.date, record.kind) == ("2026-11-30", "daily")  # type: ignore[attr-defined]
    assert (record.window_start, record.window_end) == (  # type: ignore[attr-defined]
        "2026-11-29T00:00:00+00:00",
        "2026-11-30T00:00:00+00:00",
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_empty_log")
def test_the_hourly_tick_builds_nothing_on_an_empty_day_says_so_once_then_builds_when_papers_come(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="digest.services"):
        for hour in range(6):
            at = dt.datetime.combine(MONDAY, dt.time(hour, 5), tzinfo=dt.UTC)
            assert services.tick_prepare(now=at).built == []

    assert not Issue.objects.exists()
    records = _empty_records(caplog)
    assert len(records) == 12  # asked every hour, for the daily and (a Monday) the weekly issue
    said = [(r.date, r.kind) for r in records if r.levelno == logging.INFO]  # type: ignore[attr-defined]
    assert said == [("2026-11-30", "daily"), ("2026-11-30", "weekly")]

    papers_create(4, day=MONDAY - dt.timedelta(days=1))
    built = services.tick_prepare(now=dt.datetime.combine(MONDAY, dt.time(6, 5), tzinfo=dt.UTC))

    assert [(issue.kind, len(issue.candidate_ids)) for issue in built.built] == [
        ("daily", 4),
        ("weekly", 4),
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_empty_log")
def test_rebuilding_an_issue_over_an_empty_window_leaves_it_as_it_was() -> None:
    papers = papers_create(2, day=MONDAY - dt.timedelta(days=1))
    issue = services.issue_build(date=MONDAY)
    for paper in papers:
        paper.delete()

    with pytest.raises(services.IssueEmptyError):
        services.issue_build(date=MONDAY, rebuild=True)

    issue.refresh_from_db()
    assert issue.candidate_ids == [paper.arxiv_id for paper in papers]
    assert Issue.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_ticks_building_the_same_issue_at_once_both_get_the_one_issue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    both_looked = threading.Barrier(2, timeout=10)
    select = services.issue_candidates_select

    def candidates_after_both_looked(
        *, start: dt.datetime, end: dt.datetime
    ) -> tuple[list[str], int]:
        # Both builders have found no issue when they get here: their inserts collide.
        both_looked.wait()
        return select(start=start, end=end)

    monkeypatch.setattr(services, "issue_candidates_select", candidates_after_both_looked)
    papers_create(3, day=MONDAY - dt.timedelta(days=1))  # an empty window builds no issue at all
    built: list[int] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            built.append(services.issue_build(date=MONDAY, kind=IssueKind.WEEKLY).pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(built) == 2
    assert len(set(built)) == 1
    assert Issue.objects.filter(date=MONDAY, kind=IssueKind.WEEKLY).count() == 1
