"""A ledger that stays small: old issues' delivery rows folded into their counts, then deleted.

One Delivery row per reader per issue is about 365 million rows a year at a million daily
readers. The product needs three things of them, for different lengths of time:

- what each reader was sent, for as long as "never twice" (and "code is out") looks back
  (ledger.HISTORY_DAYS): the retention may not be shorter (a system check says so);
- each issue's figures (sent, delivered, opened, bounced…), for ever: kept on the issue
  (Issue.counts_kept) when it closes, refreshed nightly for REFRESH_DAYS, kept for good before
  its rows go, and read from there by the issue list (digest.selectors), which so never counts
  millions of deliveries;
- the full rows (errors, message ids, the reasons given), for
  PAPERBOY_DELIVERY_RETENTION_DAYS (default 90), for support and the reader's "Your papers".

The nightly task prunes issues older than the retention that are over (sent): their figures
are kept first, then their rows are deleted in small batches, each its own short transaction,
so no lock is held for long and a crash loses nothing (the figures are kept before the first
row goes; a rerun goes on deleting). Running it twice changes nothing. Readers' votes and
clicks outlive the rows they came from (their link to the delivery is set to null).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core import checks
from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from digest.ledger import HISTORY_DAYS, issue_counts_keep
from digest.models import Delivery, Issue, IssueStatus, PaperClick, Vote, VoteArrival
from digest.selectors import issue_counts_live

logger = logging.getLogger(__name__)

PRUNE_BATCH = 5_000
# Opens, clicks and bounces still arrive days after an issue closes: its kept figures are
# refreshed nightly for this long.
REFRESH_DAYS = 14


@dataclass
class PruneResult:
    issues_refreshed: int = 0  # sent issues whose kept figures were brought up to date
    issues_kept: int = 0  # issues whose figures were kept for good by this run
    rows_deleted: int = 0
    issues_pruned: int = 0  # issues left with no rows by this run


def retention_cutoff(*, now: dt.datetime) -> dt.date:
    """Issues dated before this are past the retention."""
    return (now - dt.timedelta(days=settings.PAPERBOY_DELIVERY_RETENTION_DAYS)).date()


def ledger_prune(
    *,
    now: dt.datetime,
    batch_size: int = PRUNE_BATCH,
    max_batches: int | None = None,
    refresh: bool = True,
) -> PruneResult:
    """Refresh recent sent issues' figures; keep old ones' for good, then delete their rows.

    `max_batches` bounds one run's deletes (the rest waits for the next night); None: all.
    `refresh` false leaves the recent issues' figures as they are.
    """
    result = PruneResult()
    cutoff = retention_cutoff(now=now)
    sent = Issue.objects.filter(status=IssueStatus.SENT)
    recent = sent.filter(
        date__gte=max(cutoff, (now - dt.timedelta(days=REFRESH_DAYS)).date()),
        rows_pruned_at__isnull=True,
    )
    if refresh:
        result.issues_refreshed = issue_counts_keep(
            issue_ids=list(recent.values_list("pk", flat=True))
        )
    old = sent.filter(date__lt=cutoff)
    for issue in old.filter(rows_pruned_at__isnull=True).order_by("date", "pk"):
        with transaction.atomic():
            # Under the issue's row lock: two runs at once keep the figures once, and the
            # figures are whole because no row has gone yet.
            locked = Issue.objects.select_for_update().get(pk=issue.pk)
            if locked.rows_pruned_at is None:
                locked.counts_kept = issue_counts_live(issue_id=locked.pk)
                locked.rows_pruned_at = now
                locked.save(update_fields=["counts_kept", "rows_pruned_at", "updated_at"])
                result.issues_kept += 1
    batches = 0
    with_rows = old.filter(rows_pruned_at__isnull=False).filter(
        Exists(Delivery.objects.filter(issue=OuterRef("pk")))
    )
    for issue_id in with_rows.order_by("date", "pk").values_list("pk", flat=True):
        removed, deleted, after = 0, batch_size, None
        while deleted == batch_size and (max_batches is None or batches < max_batches):
            deleted, after = _batch_delete(issue_id=issue_id, batch_size=batch_size, after=after)
            batches += 1
            removed += deleted
        result.rows_deleted += removed
        result.issues_pruned += deleted < batch_size
        if max_batches is not None and batches >= max_batches:
            break
    if result.rows_deleted or result.issues_kept:
        logger.info(
            "ledger pruned",
            extra={
                "issues_kept": result.issues_kept,
                "rows_deleted": result.rows_deleted,
                "issues_pruned": result.issues_pruned,
            },
        )
    return result


def _batch_delete(
    *, issue_id: int, batch_size: int, after: tuple[str, int] | None
) -> tuple[int, tuple[str, int] | None]:
    """Delete up to `batch_size` of the issue's rows, in one short transaction.

    Returns how many, and the (status, id) to go on `after`: the rows are taken in the order of
    the (issue, status, id) index, from where the last batch stopped, so no batch walks again
    over the index entries of the rows deleted before it. Four statements whatever the batch
    (the ORM's delete would issue one per hundred rows): the readers' votes and clicks let go of
    the rows (they outlive them), the seconds-old vote arrivals go with them.
    """
    delivery = Delivery._meta.db_table
    since = ""
    params: list[int | str] = [issue_id]
    if after is not None:
        since, params = " AND (status, id) > (%s, %s)", [issue_id, *after]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status, id FROM {delivery} WHERE issue_id = %s{since} "  # noqa: S608
            "ORDER BY status, id LIMIT %s",
            [*params, batch_size],
        )
        rows = cursor.fetchall()
        if not rows:
            return 0, after
        ids = [row[1] for row in rows]
        listed = ", ".join(["%s"] * len(ids))
        for model in (Vote, PaperClick):
            cursor.execute(
                f"UPDATE {model._meta.db_table} SET delivery_id = NULL "  # noqa: S608
                f"WHERE delivery_id IN ({listed})",
                ids,
            )
        cursor.execute(
            f"DELETE FROM {VoteArrival._meta.db_table} WHERE delivery_id IN ({listed})",  # noqa: S608
            ids,
        )
        cursor.execute(f"DELETE FROM {delivery} WHERE id IN ({listed})", ids)  # noqa: S608
    return len(ids), (rows[-1][0], rows[-1][1])


@checks.register()
def retention_check(**kwargs: object) -> list[checks.CheckMessage]:
    """The retention may not be shorter than the look-back of "never twice"."""
    days = settings.PAPERBOY_DELIVERY_RETENTION_DAYS
    if days < HISTORY_DAYS:
        return [
            checks.Error(
                f"PAPERBOY_DELIVERY_RETENTION_DAYS is {days}, shorter than the {HISTORY_DAYS} "
                'days that "never twice" looks back: readers would be sent papers again.',
                hint=f"Set it to {HISTORY_DAYS} or more (the default is 90).",
                id="digest.E001",
            )
        ]
    return []
