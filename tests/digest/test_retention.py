"""A ledger that stays small: old sent issues keep their figures, lose their rows, in batches."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import checks
from django.urls import reverse

from digest import ledger, retention, tasks
from digest.models import Delivery, DeliveryStatus, Issue, IssueStatus, PaperClick, Vote
from digest.selectors import issue_counts, issue_counts_by_id
from subscriptions.models import Subscriber
from tests.factories import reader_create

NOW = dt.datetime(2026, 11, 30, 3, 45, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


def _issue(days_ago: int, status: str = IssueStatus.SENT) -> Issue:
    day = (NOW - dt.timedelta(days=days_ago)).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return Issue.objects.create(
        date=day,
        status=status,
        window_start=start - dt.timedelta(days=1),
        window_end=start,
    )


def _deliveries(issue: Issue, readers: list[Subscriber]) -> list[Delivery]:
    """Each reader's row: the first four sent (one bounced, one opened), then failed, skipped."""
    rows = []
    for i, reader in enumerate(readers):
        status = [DeliveryStatus.SENT] * 4 + [DeliveryStatus.FAILED, DeliveryStatus.SKIPPED]
        rows.append(
            Delivery.objects.create(
                issue=issue,
                subscriber=reader,
                status=status[i % 6],
                papers=[f"2611.{i:05d}"],
                sent_at=NOW if i % 6 < 4 else None,
                bounced_at=NOW if i == 1 else None,
                opened_at=NOW if i in (0, 2) else None,
            )
        )
    return rows


@pytest.fixture
def readers() -> list[Subscriber]:
    return [reader_create() for _ in range(6)]


def test_an_old_sent_issue_keeps_its_figures_and_loses_its_rows(readers: list[Subscriber]) -> None:
    old = _issue(days_ago=91)
    _deliveries(old, readers)
    before = issue_counts(issue=old)

    result = retention.ledger_prune(now=NOW, batch_size=4)

    assert (result.issues_kept, result.rows_deleted, result.issues_pruned) == (1, 6, 1)
    assert not Delivery.objects.filter(issue=old).exists()
    old.refresh_from_db()
    assert issue_counts(issue=old) == before
    assert before["sent"] == 4
    assert before["bounced"] == 1
    assert before["opened"] == 2
    assert issue_counts_by_id(issues=[old])[old.pk]["failed"] == 1


def test_recent_unsent_and_paused_issues_are_left_whole(readers: list[Subscriber]) -> None:
    recent = _issue(days_ago=89)
    still_sending = _issue(days_ago=120, status=IssueStatus.SENDING)
    for issue in (recent, still_sending):
        _deliveries(issue, readers)

    result = retention.ledger_prune(now=NOW)

    assert (result.issues_kept, result.rows_deleted) == (0, 0)
    assert Delivery.objects.count() == 12
    assert Issue.objects.filter(counts_kept__isnull=False).count() == 0


def test_running_it_twice_changes_nothing(readers: list[Subscriber]) -> None:
    old = _issue(days_ago=100)
    _deliveries(old, readers)
    retention.ledger_prune(now=NOW)
    old.refresh_from_db()
    kept = old.counts_kept

    again = retention.ledger_prune(now=NOW)

    assert (again.issues_kept, again.rows_deleted, again.issues_pruned) == (0, 0, 0)
    old.refresh_from_db()
    assert old.counts_kept == kept


def test_a_run_cut_short_goes_on_where_it_stopped_without_counting_twice(
    readers: list[Subscriber],
) -> None:
    old = _issue(days_ago=100)
    _deliveries(old, readers)

    first = retention.ledger_prune(now=NOW, batch_size=2, max_batches=1)
    assert (first.issues_kept, first.rows_deleted, first.issues_pruned) == (1, 2, 0)
    old.refresh_from_db()
    # The figures were kept before the first row went, so they are the whole issue's.
    assert old.counts_kept is not None
    assert old.counts_kept["due"] == 6
    assert issue_counts(issue=old)["due"] == 6

    rest = retention.ledger_prune(now=NOW, batch_size=2)
    assert (rest.issues_kept, rest.rows_deleted, rest.issues_pruned) == (0, 4, 1)
    old.refresh_from_db()
    assert old.counts_kept["due"] == 6


def test_votes_and_clicks_outlive_the_rows_they_came_from(readers: list[Subscriber]) -> None:
    old = _issue(days_ago=100)
    rows = _deliveries(old, readers)
    Vote.objects.create(
        subscriber=readers[0], delivery=rows[0], arxiv_id="2611.00000", direction="more"
    )
    PaperClick.objects.create(
        subscriber=readers[0], delivery=rows[0], arxiv_id="2611.00000", clicked_at=NOW
    )

    retention.ledger_prune(now=NOW)

    vote = Vote.objects.get()
    click = PaperClick.objects.get()
    assert (vote.delivery_id, vote.direction, click.delivery_id) == (None, "more", None)
    assert Subscriber.objects.count() == 6


def test_never_twice_still_sees_what_the_retention_keeps(readers: list[Subscriber]) -> None:
    """A row within HISTORY_DAYS is never pruned, so the history a batch reads is whole."""
    recent = _issue(days_ago=ledger.HISTORY_DAYS - 1)
    _deliveries(recent, readers)
    Delivery.objects.update(created_at=NOW - dt.timedelta(days=ledger.HISTORY_DAYS - 1))

    retention.ledger_prune(now=NOW)

    from django.db.models import Q

    history = ledger.history_read(readers=Q(subscriber=readers[0]), except_issue_id=0, now=NOW)
    assert history[readers[0].pk].sent == {"2611.00000"}


def test_a_retention_shorter_than_never_twice_looks_back_is_a_system_error(settings) -> None:
    settings.PAPERBOY_DELIVERY_RETENTION_DAYS = ledger.HISTORY_DAYS - 1
    errors = [m for m in checks.run_checks() if m.id == "digest.E001"]
    assert len(errors) == 1
    assert "never twice" in errors[0].msg

    settings.PAPERBOY_DELIVERY_RETENTION_DAYS = ledger.HISTORY_DAYS
    assert not [m for m in checks.run_checks() if m.id == "digest.E001"]


def test_the_retention_is_a_setting(settings, readers: list[Subscriber]) -> None:
    settings.PAPERBOY_DELIVERY_RETENTION_DAYS = 200
    old = _issue(days_ago=150)
    _deliveries(old, readers)

    assert retention.ledger_prune(now=NOW).rows_deleted == 0
    settings.PAPERBOY_DELIVERY_RETENTION_DAYS = 120
    assert retention.ledger_prune(now=NOW).rows_deleted == 6


def test_the_nightly_task_prunes_and_beat_runs_it(readers: list[Subscriber]) -> None:
    from config.celery import app

    old = _issue(days_ago=400)
    _deliveries(old, readers)

    assert tasks.ledger_prune.apply().get()["rows_deleted"] == 6
    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "digest.tasks.ledger_prune" in schedule


def test_the_issue_admin_shows_a_pruned_issues_kept_figures(
    admin_client, readers: list[Subscriber]
) -> None:
    old = _issue(days_ago=100)
    _deliveries(old, readers)
    retention.ledger_prune(now=NOW)

    listing = admin_client.get(reverse("admin:digest_issue_changelist"))
    page = admin_client.get(reverse("admin:digest_issue_change", args=[old.pk]))

    assert listing.status_code == page.status_code == 200
    # The list's "sent" column and the page's ledger table show the kept 4 sent of 6 due.
    assert 'class="field-sent">4<' in listing.content.decode()
    assert ">6<" in page.content.decode()
    assert ">4<" in page.content.decode()


def test_a_closing_issue_keeps_its_figures_and_the_list_reads_them_not_the_rows(
    readers: list[Subscriber],
) -> None:
    closing = _issue(days_ago=3, status=IssueStatus.SENDING)
    _deliveries(closing, readers)

    assert ledger.issues_close(now=NOW) == 1

    closing.refresh_from_db()
    assert closing.counts_kept == issue_counts(issue=closing)
    # A bounce arrives after the close: the list shows the kept figures until the night's
    # refresh, the issue's own page counts its rows.
    Delivery.objects.filter(issue=closing, bounced_at__isnull=True).update(bounced_at=NOW)
    assert issue_counts_by_id(issues=[closing])[closing.pk]["bounced"] == 1
    assert issue_counts(issue=closing)["bounced"] == 6

    assert retention.ledger_prune(now=NOW).issues_refreshed == 1
    closing.refresh_from_db()
    assert issue_counts_by_id(issues=[closing])[closing.pk]["bounced"] == 6


def test_the_list_counts_only_the_issues_still_going_out(readers: list[Subscriber]) -> None:
    sent = _issue(days_ago=5)
    going = _issue(days_ago=0, status=IssueStatus.SENDING)
    for issue in (sent, going):
        _deliveries(issue, readers)
    ledger.issue_counts_keep(issue_ids=[sent.pk])
    sent.refresh_from_db()
    # Were the sent issue counted over its rows, these would show.
    Delivery.objects.filter(issue=sent).update(status=DeliveryStatus.FAILED)

    counts = issue_counts_by_id(issues=[sent, going])

    assert (counts[sent.pk]["sent"], counts[sent.pk]["failed"]) == (4, 1)
    assert (counts[going.pk]["sent"], counts[going.pk]["due"]) == (4, 6)
