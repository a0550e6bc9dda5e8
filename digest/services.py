"""Writes on issues (build the issue of the day, hold it, pause and resume it) and on a reader's
signals (undo a vote, reset what the ranking learned)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from digest import ledger
from digest.models import (
    Delivery,
    DeliveryStatus,
    Issue,
    IssueHide,
    IssueKind,
    IssuePin,
    IssueStatus,
    PaperClick,
    ReaderProfile,
    Vote,
)
from digest.selectors import issue_get_locked, issue_is_frozen
from digest.votes import vote_undo
from papers.models import Paper
from papers.selectors import paper_list_trending
from subscriptions.models import Seed, Subscriber

logger = logging.getLogger(__name__)

# On a quiet day the candidates are topped up from this many days before the window, so that
# readers still get a full digest of papers they have not seen, and the email says so.
QUIET_BACKFILL_DAYS = 7
WEEKLY_WINDOW = dt.timedelta(days=7)


class IssueError(Exception):
    """An issue cannot be built or changed as asked (the message says why)."""


class IssueEmptyError(IssueError):
    """No paper at all in an issue's window (nor in the week before it): nothing to build."""


# The (date, kind) pairs already logged as empty by this process: the hourly tick asks again every
# hour until the day ends, and one line a day says it.
_EMPTY_LOGGED: set[tuple[dt.date, str]] = set()


def issue_window(*, date: dt.date, kind: str) -> tuple[dt.datetime, dt.datetime]:
    """The papers an issue covers: the hours before its build time (UTC) on its date."""
    end = dt.datetime.combine(date, dt.time(settings.PAPERBOY_ISSUE_BUILD_HOUR), tzinfo=dt.UTC)
    span = (
        WEEKLY_WINDOW
        if kind == IssueKind.WEEKLY
        else dt.timedelta(hours=settings.PAPERBOY_ISSUE_WINDOW_HOURS)
    )
    return end - span, end


def _window_days(start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date]:
    """The first and last calendar days (UTC) a window touches.

    Papers are selected by day: a paper's day is its HF date, else its publication day.
    """
    return start.date(), (end - dt.timedelta(microseconds=1)).date()


def issue_candidates_select(*, start: dt.datetime, end: dt.datetime) -> tuple[list[str], int]:
    """The candidates for a window, most trending first, and how many of them are new in it.

    When fewer than PAPERBOY_QUIET_MIN_PAPERS papers are new, the list is topped up with the
    most trending papers of the week before: each reader is only ever sent papers they have
    not had, and the email says the day was quiet.
    """
    limit = settings.PAPERBOY_ISSUE_CANDIDATES
    first, last = _window_days(start, end)
    new = list(
        paper_list_trending(start=first, end=last, now=end, limit=limit).values_list(
            "arxiv_id", flat=True
        )
    )
    ids = list(new)
    if len(new) < settings.PAPERBOY_QUIET_MIN_PAPERS:
        earlier = paper_list_trending(
            start=first - dt.timedelta(days=QUIET_BACKFILL_DAYS),
            end=first - dt.timedelta(days=1),
            now=end,
        )
        seen = set(ids)
        for arxiv_id in earlier.values_list("arxiv_id", flat=True)[: limit * 2]:
            if len(ids) >= limit:
                break
            if arxiv_id not in seen:
                ids.append(arxiv_id)
    return ids, len(new)


@transaction.atomic
def issue_build(*, date: dt.date, kind: str = IssueKind.DAILY, rebuild: bool = False) -> Issue:
    """The issue of this date and kind, created with its candidates (refreshed with `rebuild`).

    An issue that has started sending is never rebuilt: its readers must all be ranked over the
    same papers. A new issue is scheduled, or a draft when editors must approve it first. A window
    without a single candidate builds nothing (an existing issue is left as it is): IssueEmptyError.
    """
    if kind not in IssueKind.values:
        raise IssueError(f"unknown issue kind {kind!r}; use one of: {', '.join(IssueKind.values)}")
    start, end = issue_window(date=date, kind=kind)
    issue = Issue.objects.select_for_update().filter(date=date, kind=kind).first()
    if issue is not None and not rebuild:
        return issue
    if issue is not None and issue.status in (IssueStatus.SENDING, IssueStatus.SENT):
        raise IssueError(f"{issue} is {issue.status}: an issue that has gone out cannot be rebuilt")
    candidate_ids, new_count = issue_candidates_select(start=start, end=end)
    if not candidate_ids:
        _issue_empty_log(date=date, kind=kind, start=start, end=end)
        raise IssueEmptyError(
            f"nothing to build: no papers between {start:%Y-%m-%d %H:%M} and "
            f"{end:%Y-%m-%d %H:%M} UTC (nor in the {QUIET_BACKFILL_DAYS} days before), "
            f"so there is no {kind} issue of {date}"
        )
    fields = _issue_fields(start=start, end=end, candidate_ids=candidate_ids, new_count=new_count)
    if issue is None:
        issue, inserted = _issue_insert(date=date, kind=kind, fields=fields)
        if not inserted:
            return issue
    else:
        _issue_overwrite(issue=issue, fields=fields)
    _issue_built_log(
        issue=issue, date=date, kind=kind, candidates=len(candidate_ids), new=new_count
    )
    return issue


@dataclass(frozen=True)
class BuildPreview:
    """What building the issue of a date and kind would take, before anything is written."""

    date: dt.date
    kind: str
    start: dt.datetime
    end: dt.datetime
    candidate_ids: list[str]
    new_count: int

    @property
    def quiet(self) -> bool:
        return self.new_count < settings.PAPERBOY_QUIET_MIN_PAPERS


def issue_build_preview(*, date: dt.date, kind: str) -> BuildPreview:
    """The window and candidates issue_build would take for this date and kind; writes nothing."""
    if kind not in IssueKind.values:
        raise IssueError(f"unknown issue kind {kind!r}; use one of: {', '.join(IssueKind.values)}")
    start, end = issue_window(date=date, kind=kind)
    candidate_ids, new_count = issue_candidates_select(start=start, end=end)
    return BuildPreview(date, kind, start, end, candidate_ids, new_count)


def _issue_fields(
    *, start: dt.datetime, end: dt.datetime, candidate_ids: list[str], new_count: int
) -> dict[str, object]:
    """What a build writes on an issue, new or rebuilt: its window and candidates."""
    return {
        "window_start": start,
        "window_end": end,
        "candidate_ids": candidate_ids,
        "new_papers": new_count,
        "quiet": new_count < settings.PAPERBOY_QUIET_MIN_PAPERS,
        "built_at": timezone.now(),
    }


def _issue_insert(*, date: dt.date, kind: str, fields: dict[str, object]) -> tuple[Issue, bool]:
    """The new issue and True; or, if another tick inserted it first, theirs and False."""
    status = (
        IssueStatus.DRAFT if settings.PAPERBOY_ISSUE_REQUIRE_APPROVAL else IssueStatus.SCHEDULED
    )
    try:
        with transaction.atomic():
            return Issue.objects.create(date=date, kind=kind, status=status, **fields), True
    except IntegrityError:
        # Another tick (two beats, or send_due by hand) built it between our read and this
        # insert: theirs stands, as it would have had it come a moment earlier.
        return Issue.objects.select_for_update().get(date=date, kind=kind), False


def _issue_overwrite(*, issue: Issue, fields: dict[str, object]) -> None:
    """Write a rebuild's fields over the issue's, and read it back."""
    Issue.objects.filter(pk=issue.pk).update(**fields, updated_at=timezone.now())
    issue.refresh_from_db()


def _issue_built_log(*, issue: Issue, date: dt.date, kind: str, candidates: int, new: int) -> None:
    logger.info(
        "issue built",
        extra={
            "issue": issue.pk,
            "date": str(date),
            "kind": kind,
            "candidates": candidates,
            "new": new,
        },
    )


def _issue_empty_log(*, date: dt.date, kind: str, start: dt.datetime, end: dt.datetime) -> None:
    """Say once per process and (date, kind) that its window is empty; later asks log at debug."""
    first = (date, kind) not in _EMPTY_LOGGED
    _EMPTY_LOGGED.add((date, kind))
    logger.log(
        logging.INFO if first else logging.DEBUG,
        "issue not built: no candidate papers in its window",
        extra={
            "date": str(date),
            "kind": kind,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
        },
    )


def issues_build_due(*, now: dt.datetime) -> list[Issue]:
    """Today's daily issue, and on Mondays the weekly one, once their build hour (UTC) has come.

    An issue whose window has no papers is not built (and not in the list).
    """
    today = now.astimezone(dt.UTC).date()
    if now.astimezone(dt.UTC).hour < settings.PAPERBOY_ISSUE_BUILD_HOUR:
        return []
    kinds = [IssueKind.DAILY, IssueKind.WEEKLY] if today.weekday() == 0 else [IssueKind.DAILY]
    built = []
    for kind in kinds:
        try:
            built.append(issue_build(date=today, kind=kind))
        except IssueEmptyError:
            continue  # logged by issue_build
    return built


def issue_pause(*, issue: Issue, reason: str) -> bool:
    """Stop claiming the issue's deliveries (claimed batches finish); False if it was paused."""
    reason = " ".join(reason.split())[:300] or "paused"
    changed = Issue.objects.filter(pk=issue.pk, paused_at__isnull=True).update(
        paused_at=timezone.now(), pause_reason=reason, updated_at=timezone.now()
    )
    if changed:
        logger.warning("issue paused", extra={"issue": issue.pk, "reason": reason})
    return bool(changed)


def issue_resume(*, issue: Issue) -> bool:
    """Let a paused issue's deliveries be claimed again; False if it was not paused."""
    changed = Issue.objects.filter(pk=issue.pk, paused_at__isnull=False).update(
        paused_at=None, pause_reason="", updated_at=timezone.now()
    )
    return bool(changed)


def issue_schedule(*, issue: Issue) -> bool:
    """Approve a draft: it goes out at each reader's hour. False if it was not a draft."""
    return bool(
        Issue.objects.filter(pk=issue.pk, status=IssueStatus.DRAFT).update(
            status=IssueStatus.SCHEDULED, updated_at=timezone.now()
        )
    )


def issue_hold(*, issue: Issue) -> bool:
    """Turn a scheduled issue back into a draft, before anything was sent. False otherwise."""
    if Delivery.objects.filter(issue=issue).exists():
        return False
    return bool(
        Issue.objects.filter(pk=issue.pk, status=IssueStatus.SCHEDULED).update(
            status=IssueStatus.DRAFT, updated_at=timezone.now()
        )
    )


# --- Editors' pins and hides -------------------------------------------------------------------


class IssueFrozenError(IssueError):
    """The issue has started going out: its pins and hides can no longer change."""


def _issue_editable(*, issue_id: int) -> Issue:
    """The issue, its row locked until the transaction ends; IssueFrozenError once it goes out.

    Holding the row means no reader can be made due (their ledger rows reference it) between
    the check and the change.
    """
    issue = issue_get_locked(issue_id=issue_id)
    if issue_is_frozen(issue=issue):
        raise IssueFrozenError(
            f"{issue} has started going out: its pins and hides can no longer change"
        )
    return issue


@transaction.atomic
def issue_paper_pin(*, issue_id: int, paper: Paper) -> bool:
    """Pin the paper last in the issue's pins; False if it was pinned already."""
    issue = _issue_editable(issue_id=issue_id)
    if IssuePin.objects.filter(issue=issue, paper=paper).exists():
        return False
    last = IssuePin.objects.filter(issue=issue).aggregate(last=Max("position"))["last"]
    IssuePin.objects.create(issue=issue, paper=paper, position=0 if last is None else last + 1)
    return True


@transaction.atomic
def issue_paper_unpin(*, issue_id: int, paper: Paper) -> bool:
    """Take the paper out of the issue's pins; False if it was not pinned."""
    issue = _issue_editable(issue_id=issue_id)
    deleted, _ = IssuePin.objects.filter(issue=issue, paper=paper).delete()
    return bool(deleted)


@transaction.atomic
def issue_paper_hide(*, issue_id: int, paper: Paper) -> bool:
    """Keep the paper out of the issue (a pin still wins); False if it was hidden already."""
    issue = _issue_editable(issue_id=issue_id)
    _hide, created = IssueHide.objects.get_or_create(issue=issue, paper=paper)
    return created


@transaction.atomic
def issue_paper_unhide(*, issue_id: int, paper: Paper) -> bool:
    """Let a hidden paper back into the issue; False if it was not hidden."""
    issue = _issue_editable(issue_id=issue_id)
    deleted, _ = IssueHide.objects.filter(issue=issue, paper=paper).delete()
    return bool(deleted)


@dataclass(frozen=True)
class TickPreparation:
    """What one tick did before sending: issues built, stuck claims recovered, readers made due."""

    built: list[Issue]
    requeued: int
    failed: int
    made_due: dict[int, int]  # issue id -> readers made due now
    issue_ids_to_send: list[int]  # issues with queued deliveries to send, not paused


def tick_prepare(*, now: dt.datetime) -> TickPreparation:
    """Everything the hourly tick does before sending (the beat's task and `send_due` share it)."""
    built = issues_build_due(now=now)
    requeued, failed = ledger.deliveries_recover_stuck(now=now)
    made_due = ledger.deliveries_create_due(now=now)
    waiting = Delivery.objects.filter(status=DeliveryStatus.QUEUED, issue__paused_at__isnull=True)
    issue_ids = set(waiting.values_list("issue_id", flat=True).distinct())
    return TickPreparation(built, requeued, failed, made_due, sorted(issue_ids | set(made_due)))


# --- A reader's signals ---------------------------------------------------------------------------


def reader_vote_undo(*, subscriber: Subscriber, vote_id: int) -> bool:
    """Undo one of the reader's own votes by its id; False if it is gone or not theirs."""
    vote = Vote.objects.filter(pk=vote_id, subscriber=subscriber).first()
    if vote is None:
        return False
    return vote_undo(subscriber_id=subscriber.pk, arxiv_id=vote.arxiv_id, direction=vote.direction)


@dataclass(frozen=True)
class PersonalizationReset:
    """How many of each kind of signal a reset deleted."""

    votes: int
    clicks: int
    seeds: int
    profiles: int


@transaction.atomic
def reader_personalization_reset(*, subscriber: Subscriber) -> PersonalizationReset:
    """Forget what the reader taught the ranking: votes, tracked clicks, seeds, learned profile.

    The subscription, its interests and its "less of this" text stay: the reader wrote those and
    edits them on the manage page.
    """
    votes, _ = Vote.objects.filter(subscriber=subscriber).delete()
    clicks, _ = PaperClick.objects.filter(subscriber=subscriber).delete()
    seeds, _ = Seed.objects.filter(subscriber=subscriber).delete()
    profiles, _ = ReaderProfile.objects.filter(subscriber=subscriber).delete()
    logger.info(
        "reader personalization reset",
        extra={"subscriber": subscriber.pk, "votes": votes, "seeds": seeds},
    )
    return PersonalizationReset(votes, clicks, seeds, profiles)
