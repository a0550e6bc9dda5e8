"""The send ledger, so that no reader gets an issue twice.

Who is due, claiming, recording, recovering stuck claims.

Delivery(issue, subscriber) is unique, so a reader can be made due for an issue once. A batch
claims its rows with one conditional UPDATE (on PostgreSQL over `FOR UPDATE SKIP LOCKED`, so
concurrent workers take disjoint rows without waiting) and records the outcome with one more,
guarded by its claim: a batch whose claim was recovered as stuck cannot overwrite the rows
another batch now holds.

The SQL here is written by hand (Django has no UPDATE … RETURNING): only table names from the
models are formatted into it, every value is a parameter.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet

from digest.models import Delivery, DeliveryStatus, Issue, IssueKind, IssueStatus
from digest.selectors import issue_counts_live, issue_readers
from subscriptions.models import Subscriber
from subscriptions.selectors import subscriber_list_deliverable

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
Frequency = Subscriber.Frequency
# Issues readers may be made due for: a draft waits for an editor, a sent one is over.
OPEN_STATUSES = (IssueStatus.SCHEDULED, IssueStatus.SENDING)
# A value bound to a %s of the hand-written SQL below.
SqlParam = int | str | dt.datetime | uuid.UUID


@dataclass(frozen=True, order=True)
class Claimed:
    delivery_id: int
    subscriber_id: int
    attempts: int


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status: str  # a DeliveryStatus
    message_id: str = ""
    papers: tuple[str, ...] = ()
    error: str = ""
    reasons: tuple[str, ...] = ()  # each paper's reason, in the order of `papers`
    notices: tuple[str, ...] = ()  # the papers told "code is out" (see digest.notices)


# --- Who is due ---------------------------------------------------------------------------------


def _local_groups(
    *, now: dt.datetime, timezones: Sequence[str]
) -> dict[tuple[dt.date, int], list[str]]:
    """Time zones by their local (date, hour) at `now`; unknown ones are logged and left out."""
    groups: dict[tuple[dt.date, int], list[str]] = defaultdict(list)
    for name in timezones:
        try:
            local = now.astimezone(zoneinfo.ZoneInfo(name))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            logger.error("subscriber time zone unknown", extra={"timezone": name})
            continue
        groups[(local.date(), local.hour)].append(name)
    return groups


def _frequencies(kind: str, local_date: dt.date) -> list[str]:
    if kind == IssueKind.WEEKLY:
        return [Frequency.WEEKLY] if local_date.weekday() == 0 else []
    if local_date.weekday() >= 5:
        return [Frequency.DAILY]
    return [Frequency.DAILY, Frequency.WEEKDAYS]


def deliveries_create_due(*, now: dt.datetime) -> dict[int, int]:
    """Make due the readers whose local hour has come, for their local day's issue; rows per issue.

    A reader is due on local date L once their hour has come (not only at it: a tick missed
    because the beat was down is made up at the next one) for the issue of date L, if it is
    scheduled or sending. Readers east of UTC whose hour comes before the issue is built get
    it at the first tick after. The unique ledger row makes every tick idempotent.
    """
    timezones = list(subscriber_list_deliverable().values_list("timezone", flat=True).distinct())
    issues = {
        (issue.date, issue.kind): issue
        for issue in Issue.objects.filter(
            status__in=OPEN_STATUSES,
            date__gte=(now - dt.timedelta(days=1)).date(),
            date__lte=(now + dt.timedelta(days=1)).date(),
        )
    }
    created: dict[int, int] = {}
    for (local_date, hour), names in sorted(_local_groups(now=now, timezones=timezones).items()):
        for kind in IssueKind.values:
            issue = issues.get((local_date, kind))
            frequencies = _frequencies(kind, local_date)
            if issue is None or not frequencies:
                continue
            readers = subscriber_list_deliverable().filter(
                timezone__in=names, delivery_hour__lte=hour, frequency__in=frequencies
            )
            count = _insert_deliveries(issue=issue, readers=readers, now=now)
            if count:
                created[issue.pk] = created.get(issue.pk, 0) + count
    for issue_id, count in created.items():
        Issue.objects.filter(pk=issue_id, status=IssueStatus.SCHEDULED).update(
            status=IssueStatus.SENDING, sending_at=now, updated_at=now
        )
        logger.info("deliveries due", extra={"issue": issue_id, "count": count})
    return created


def deliveries_create_all(*, issue: Issue, now: dt.datetime) -> int:
    """Make every deliverable reader of the issue's kind due now ("send now"), at any hour."""
    count = _insert_deliveries(issue=issue, readers=issue_readers(issue=issue), now=now)
    # An issue that reached nobody has not started going out: it stays scheduled (and editable).
    if count or Delivery.objects.filter(issue=issue).exists():
        Issue.objects.filter(pk=issue.pk, status=IssueStatus.SCHEDULED).update(
            status=IssueStatus.SENDING, sending_at=now, updated_at=now
        )
    return count


def deliveries_create_for(*, issue: Issue, readers: QuerySet[Subscriber], now: dt.datetime) -> int:
    """Make these readers due for the issue now (the demo's readers, say); the rows created."""
    count = _insert_deliveries(issue=issue, readers=readers, now=now)
    Issue.objects.filter(pk=issue.pk, status=IssueStatus.SCHEDULED).update(
        status=IssueStatus.SENDING, sending_at=now, updated_at=now
    )
    return count


def _insert_deliveries(*, issue: Issue, readers: QuerySet[Subscriber], now: dt.datetime) -> int:
    """INSERT … SELECT the readers' ledger rows in one statement; rows that exist are left alone."""
    select_sql, params = readers.values("id").query.sql_with_params()
    table = Delivery._meta.db_table
    sql = (
        f"INSERT INTO {table} (issue_id, subscriber_id, status, attempts, message_id, papers, "  # noqa: S608
        "reasons, notices, error, created_at, updated_at) "
        f"SELECT %s, due.id, %s, 0, '', '[]', '[]', '[]', '', %s, %s FROM ({select_sql}) due "
        # WHERE true: SQLite needs it to tell ON CONFLICT from a join's ON.
        "WHERE true ON CONFLICT (issue_id, subscriber_id) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [issue.pk, DeliveryStatus.QUEUED, now, now, *params])
        return max(cursor.rowcount, 0)


# --- Claiming and recording ----------------------------------------------------------------------


def _claim_param(claim: uuid.UUID) -> uuid.UUID | str:
    return claim if connection.vendor == "postgresql" else claim.hex


def delivery_claim(
    *, issue_id: int, limit: int, now: dt.datetime
) -> tuple[uuid.UUID, list[Claimed]]:
    """Claim up to `limit` queued deliveries of an open, unpaused issue, in one statement."""
    claim = uuid.uuid4()
    table, issues = Delivery._meta.db_table, Issue._meta.db_table
    lock = " FOR UPDATE OF d SKIP LOCKED" if connection.vendor == "postgresql" else ""
    sql = (
        f"UPDATE {table} SET status = %s, claim = %s, claimed_at = %s, "  # noqa: S608
        "attempts = attempts + 1, updated_at = %s "
        f"WHERE id IN (SELECT d.id FROM {table} d JOIN {issues} i ON i.id = d.issue_id "
        "WHERE d.issue_id = %s AND d.status = %s AND i.paused_at IS NULL "
        "AND i.status IN (%s, %s) "
        f"ORDER BY d.id LIMIT %s{lock}) RETURNING id, subscriber_id, attempts"
    )
    params: list[SqlParam] = [
        DeliveryStatus.SENDING,
        _claim_param(claim),
        now,
        now,
        issue_id,
        DeliveryStatus.QUEUED,
        *OPEN_STATUSES,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        rows = cursor.fetchall()
    return claim, sorted(Claimed(*row) for row in rows)


def delivery_reclaim(*, claim: uuid.UUID, now: dt.datetime) -> list[Claimed]:
    """Take back the rows a batch's claim still holds, for a retry (none if recovered since)."""
    table = Delivery._meta.db_table
    sql = (
        f"UPDATE {table} SET claimed_at = %s, attempts = attempts + 1, updated_at = %s "  # noqa: S608
        "WHERE claim = %s AND status = %s RETURNING id, subscriber_id, attempts"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, now, _claim_param(claim), DeliveryStatus.SENDING])
        rows = cursor.fetchall()
    return sorted(Claimed(*row) for row in rows)


def delivery_record(*, claim: uuid.UUID, outcomes: Sequence[Outcome], now: dt.datetime) -> int:
    """Write a batch's outcomes in one statement, on rows its claim still holds; rows written."""
    if not outcomes:
        return 0
    table = Delivery._meta.db_table
    jsonb_cast = "::jsonb" if connection.vendor == "postgresql" else ""
    bigint_cast = "::bigint" if connection.vendor == "postgresql" else ""
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(outcomes))
    params: list[SqlParam] = []
    for o in outcomes:
        params += [
            o.delivery_id,
            o.status,
            o.message_id[:255],
            json.dumps(list(o.papers)),
            json.dumps(list(o.reasons)),
            json.dumps(list(o.notices)),
            o.error[:500],
        ]
    # A still-queued retry keeps its claim; anything final lets go of it.
    sql = (
        f"WITH v(id, status, message_id, papers, reasons, notices, error) AS (VALUES {values}) "  # noqa: S608
        f"UPDATE {table} SET status = v.status, message_id = v.message_id, "
        f"papers = v.papers{jsonb_cast}, reasons = v.reasons{jsonb_cast}, "
        f"notices = v.notices{jsonb_cast}, error = v.error, updated_at = %s, "
        f"sent_at = CASE WHEN v.status = %s THEN %s ELSE {table}.sent_at END, "
        f"claim = CASE WHEN v.status = %s THEN {table}.claim ELSE NULL END "
        f"FROM v WHERE {table}.id = v.id{bigint_cast} "
        f"AND {table}.claim = %s AND {table}.status = %s"
    )
    params += [
        now,
        DeliveryStatus.SENT,
        now,
        DeliveryStatus.SENDING,
        _claim_param(claim),
        DeliveryStatus.SENDING,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def delivery_release(*, claim: uuid.UUID, delivery_ids: Sequence[int], now: dt.datetime) -> int:
    """Give rows a batch holds back to the queue untried (a sending limit held them); rows given.

    Their claim never reached the provider, so it does not count as an attempt.
    """
    if not delivery_ids:
        return 0
    held = Delivery.objects.filter(pk__in=delivery_ids, claim=claim, status=DeliveryStatus.SENDING)
    return held.update(
        status=DeliveryStatus.QUEUED,
        claim=None,
        claimed_at=None,
        attempts=F("attempts") - 1,
        updated_at=now,
    )


def deliveries_recover_stuck(*, now: dt.datetime) -> tuple[int, int]:
    """Claims older than the timeout are a crashed batch's: requeued, or failed after MAX_ATTEMPTS.

    The batch may have handed some messages to the provider before it died; sending them again
    carries the same idempotency key, so a provider that honours it delivers each once.
    Returns (requeued, failed).
    """
    cutoff = now - dt.timedelta(minutes=settings.PAPERBOY_CLAIM_TIMEOUT_MINUTES)
    stuck = Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=cutoff)
    with transaction.atomic():
        failed = stuck.filter(attempts__gte=MAX_ATTEMPTS).update(
            status=DeliveryStatus.FAILED,
            claim=None,
            error=f"gave up after {MAX_ATTEMPTS} attempts: the batch never finished",
            updated_at=now,
        )
        requeued = stuck.update(status=DeliveryStatus.QUEUED, claim=None, updated_at=now)
    if requeued or failed:
        logger.warning("stuck deliveries recovered", extra={"requeued": requeued, "failed": failed})
    return requeued, failed


def issues_close(*, now: dt.datetime) -> int:
    """Sending issues two days past their date with nothing left in flight become sent."""
    in_flight = Q(deliveries__status__in=(DeliveryStatus.QUEUED, DeliveryStatus.SENDING))
    done = (
        Issue.objects.filter(
            status=IssueStatus.SENDING, date__lt=(now - dt.timedelta(days=2)).date()
        )
        .exclude(in_flight)
        .values_list("pk", flat=True)
    )
    closing = list(done)
    closed = Issue.objects.filter(pk__in=closing).update(
        status=IssueStatus.SENT, sent_at=now, updated_at=now
    )
    # The issue list reads a sent issue's kept figures (refreshed nightly by digest.retention).
    issue_counts_keep(issue_ids=closing)
    return closed


def issue_counts_keep(*, issue_ids: list[int]) -> int:
    """Keep the figures of these sent issues on them, for the issue list; how many were kept.

    Called when issues close and nightly while opens, clicks and bounces still arrive: the
    list of issues then reads a row per issue instead of counting millions of deliveries.
    """
    kept = 0
    for issue in Issue.objects.filter(pk__in=issue_ids, rows_pruned_at__isnull=True):
        issue.counts_kept = issue_counts_live(issue_id=issue.pk)
        issue.save(update_fields=["counts_kept", "updated_at"])
        kept += 1
    return kept


def _history_rows_lateral(
    *,
    subscriber_ids: Sequence[int],
    statuses: tuple[str, str],
    since: dt.datetime,
    except_issue_id: int,
) -> list[tuple[int, Any, Any, dt.datetime | None]]:
    """A batch's readers' recent deliveries, one index lookup per reader (PostgreSQL).

    Whatever the ledger's statistics: joined through the claim, a ledger not yet analyzed (a
    fresh fan-out, autovacuum off) was read through the status index, a quarter to half a second
    a batch at a million readers. Here each reader's rows come from the (subscriber, created_at)
    index: LATERAL with OFFSET 0 (so it is not flattened into a join), and no condition on the
    status in SQL (it is filtered here), so no other index can be combined in.
    """
    table = Delivery._meta.db_table
    sql = (
        "SELECT d.subscriber_id, d.status, d.papers, d.notices, d.sent_at "  # noqa: S608
        "FROM unnest(%s::bigint[]) AS r(id) CROSS JOIN LATERAL ("
        f"SELECT subscriber_id, status, papers, notices, sent_at FROM {table} "
        "WHERE subscriber_id = r.id AND created_at >= %s AND issue_id <> %s OFFSET 0) d"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(subscriber_ids), since, except_issue_id])
        # Django has psycopg hand jsonb over as text (JSONField decodes it): so here.
        return [
            (reader, _json(papers), _json(notices), sent_at)
            for reader, status, papers, notices, sent_at in cursor.fetchall()
            if status in statuses
        ]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# Candidates are at most a couple of weeks old: what a reader was sent before this cannot collide.
# "Code is out" looks back as far, so one read of the ledger serves both.
HISTORY_DAYS = 60


@dataclass
class SentHistory:
    """What one reader was sent lately by other issues, as the batch needs it."""

    sent: set[str] = field(default_factory=set)  # every paper sent (or being sent)
    # When each paper was first sent, for the papers of deliveries that went out.
    first_sent: dict[str, dt.datetime] = field(default_factory=dict)
    notified: set[str] = field(default_factory=set)  # papers already told "code is out"


def history_read(
    *,
    readers: Q | None = None,
    subscriber_ids: Sequence[int] | None = None,
    except_issue_id: int,
    now: dt.datetime,
) -> defaultdict[int, SentHistory]:
    """What these readers were sent (or are being sent) lately by other issues, by reader id.

    The readers are `subscriber_ids` (a batch's), or `readers`, a Q over deliveries' subscriber,
    e.g. Q(subscriber=reader).
    """
    history: defaultdict[int, SentHistory] = defaultdict(SentHistory)
    since = now - dt.timedelta(days=HISTORY_DAYS)
    statuses = (DeliveryStatus.SENT, DeliveryStatus.SENDING)
    rows: Iterable[tuple[int, Any, Any, dt.datetime | None]]
    if subscriber_ids is not None and connection.vendor == "postgresql":
        rows = _history_rows_lateral(
            subscriber_ids=subscriber_ids,
            statuses=statuses,
            since=since,
            except_issue_id=except_issue_id,
        )
    else:
        chosen = readers if subscriber_ids is None else Q(subscriber_id__in=list(subscriber_ids))
        rows = (
            Delivery.objects.filter(chosen, status__in=statuses, created_at__gte=since)
            .exclude(issue_id=except_issue_id)
            .values_list("subscriber_id", "papers", "notices", "sent_at")
        )
    for subscriber_id, papers, notices, sent_at in rows:
        reader = history[subscriber_id]
        reader.sent.update(papers or ())
        reader.notified.update(notices or ())
        if sent_at is None:
            continue
        for arxiv_id in papers or ():
            first = reader.first_sent.get(arxiv_id)
            if first is None or sent_at < first:
                reader.first_sent[arxiv_id] = sent_at
    return history
