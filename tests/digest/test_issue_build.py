"""Building an issue while another tick builds the same one (two beats, or send_due by hand)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connections

from digest import services
from digest.models import Issue, IssueKind

MONDAY = dt.date(2026, 11, 30)


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
